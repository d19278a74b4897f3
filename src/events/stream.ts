import type { Db } from '../db/client';
import type { ResourceRef } from './types';

export interface StreamedEvent {
  id: bigint;
  type: string;
  data: unknown;
}

export interface StreamOptions {
  /** How often the table is read for new events. */
  pollMs: number;
  /** How often a comment line keeps idle proxies from closing the connection. */
  heartbeatMs: number;
}

export const STREAM_DEFAULTS: StreamOptions = { pollMs: 250, heartbeatMs: 15_000 };

/**
 * A resource's events as Server-Sent Events, from the table: every event after `after`, then
 * new ones as they are committed (any API process sees what any worker wrote), until the
 * `completed` event has been written. Each open stream reads the table every `pollMs`, one
 * indexed query; writing stops when the client goes away.
 */
export async function streamEvents(
  db: Db,
  ref: ResourceRef,
  after: bigint,
  out: { write(chunk: string): void; closed(): boolean },
  opts: StreamOptions = STREAM_DEFAULTS,
): Promise<void> {
  let cursor = after;
  let lastWrite = Date.now();
  while (!out.closed()) {
    const events = await db.resourceEvent.findMany({
      where: { resourceType: ref.resourceType, resourceId: ref.resourceId, id: { gt: cursor } },
      orderBy: { id: 'asc' },
      select: { id: true, type: true, data: true },
      take: 500,
    });
    for (const e of events) {
      out.write(formatEvent(e));
      cursor = e.id;
      lastWrite = Date.now();
      if (e.type === 'completed') return;
    }
    if (Date.now() - lastWrite >= opts.heartbeatMs) {
      out.write(': heartbeat\n\n');
      lastWrite = Date.now();
    }
    if (events.length < 500) await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

export function formatEvent(e: StreamedEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** `Last-Event-ID` as an event id to resume after; anything else starts from the beginning. */
export function resumeAfter(header: string | undefined): bigint {
  return header && /^\d{1,19}$/.test(header.trim()) ? BigInt(header.trim()) : 0n;
}
