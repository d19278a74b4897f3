import type { Db } from '../db/client';
import { AppError } from '../errors';
import type { EventFanout, Wake } from './fanout';
import type { ResourceRef } from './types';

export interface StreamedEvent {
  id: bigint;
  type: string;
  data: unknown;
}

export interface StreamOptions {
  /** How often a comment line keeps idle proxies from closing the connection. */
  heartbeatMs: number;
  /** The stream ends after this long with a `retry:` line; the client resumes with Last-Event-ID. */
  lifetimeMs: number;
  /** The `retry:` hint sent when the lifetime ends or the process shuts down, in ms. */
  retryMs: number;
  /** The resource was final when the request came: send what is left and end, without waiting. */
  final: boolean;
  /** Ends the stream from outside (the client went away, its API key was revoked). */
  signal: AbortSignal;
  /**
   * While the resource waits in the provider queue: where it stands (src/queue/board.ts), sent as
   * an `event: queue` without an id (so Last-Event-ID stays on recorded events) every
   * `everyMs` until the resource's next recorded event shows it moved on.
   */
  queue?: { everyMs: number; position: () => Promise<unknown> };
}

/** How a stream ended. */
export type StreamEnd = 'completed' | 'final' | 'lifetime' | 'shutdown' | 'aborted';

export const HEARTBEAT_MS = 15_000;
/** Events read per query; a longer backlog is read in several. */
const BATCH = 500;
/** setTimeout's largest delay (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A resource's events as Server-Sent Events: every event after `after` from the table, then
 * new ones as they are committed (any API process sees what any worker wrote), until the
 * `completed` event. The table is read once for the backlog and then only when the fan-out
 * (src/events/fanout.ts) says something was written for this resource; notifications that
 * arrive during a read are one more read. A resource that is already final gets what is left
 * and the end at once, whatever `after` says. The stream also ends at `lifetimeMs` or at
 * shutdown, with a `retry:` hint so EventSource reconnects with Last-Event-ID.
 */
export async function streamEvents(
  deps: { db: Db; fanout: EventFanout },
  ref: ResourceRef,
  after: bigint,
  out: { write(chunk: string): void },
  opts: StreamOptions,
): Promise<StreamEnd> {
  let cursor = after;
  let dirty = true;
  /** A `completed` notification was heard: after the next read the stream ends even if it read nothing (after > its id). */
  let completedHeard = false;
  let ending: 'lifetime' | 'shutdown' | 'aborted' | undefined;
  let wake: (() => void) | undefined;
  let lastWrite = Date.now();
  const poke = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const write = (chunk: string) => {
    out.write(chunk);
    lastWrite = Date.now();
  };

  const onWake = (w: Wake) => {
    if (w.kind === 'closed') ending ??= 'shutdown';
    else if (w.kind === 'missed') dirty = true;
    else {
      if (w.event.type === 'completed') completedHeard = true;
      if (w.event.id > cursor || w.event.type === 'completed') dirty = true;
    }
    poke();
  };
  const unsubscribe = opts.final ? () => undefined : deps.fanout.subscribe(ref, onWake);
  const onAbort = () => {
    ending ??= 'aborted';
    poke();
  };
  opts.signal.addEventListener('abort', onAbort);
  const lifetime = setTimeout(() => {
    ending ??= 'lifetime';
    poke();
  }, Math.min(opts.lifetimeMs, MAX_TIMER_MS));
  const heartbeat = setInterval(() => {
    if (!ending && !opts.signal.aborted && Date.now() - lastWrite >= opts.heartbeatMs) write(': heartbeat\n\n');
  }, Math.max(1, Math.floor(opts.heartbeatMs / 3)));
  let queued = opts.queue !== undefined;
  const sendPosition = async () => {
    const position = queued ? await opts.queue!.position().catch(() => null) : null;
    if (position && queued && !ending && !opts.signal.aborted) write(`event: queue\ndata: ${JSON.stringify(position)}\n\n`);
  };
  const queueTimer = opts.queue ? setInterval(() => void sendPosition(), opts.queue.everyMs) : undefined;
  if (opts.queue) void sendPosition();
  try {
    for (;;) {
      if (opts.signal.aborted) return 'aborted';
      if (ending) {
        if (ending !== 'aborted') write(`retry: ${opts.retryMs}\n\n`);
        return ending;
      }
      if (dirty) {
        dirty = false;
        const events = await deps.db.resourceEvent.findMany({
          where: { resourceType: ref.resourceType, resourceId: ref.resourceId, id: { gt: cursor } },
          orderBy: { id: 'asc' },
          select: { id: true, type: true, data: true },
          take: BATCH,
        });
        if (opts.signal.aborted) return 'aborted';
        for (const e of events) {
          // Recorded events before the stream opened are history; one after it means the work moved on.
          if (e.type === 'status' && queued) queued = (e.data as { status?: string } | null)?.status === 'queued';
          write(formatEvent(e));
          cursor = e.id;
          if (e.type === 'completed') return 'completed';
        }
        if (events.length === BATCH) dirty = true;
        // A notification that came during the read (dirty again) is read first.
        if (!dirty && (opts.final || completedHeard)) return 'final';
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    unsubscribe();
    opts.signal.removeEventListener('abort', onAbort);
    clearTimeout(lifetime);
    clearInterval(heartbeat);
    clearInterval(queueTimer);
  }
}

const FINAL_STATUSES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

/** Jobs, prompts and trainings share these final statuses. */
export const isFinalStatus = (status: string) => FINAL_STATUSES.has(status);

/** The status (and arrival) of the user's job, prompt or model version; 404 for anyone else's, as on its GET. */
export async function ownResourceStatus(db: Db, ref: ResourceRef, userId: string): Promise<{ status: string; createdAt: Date }> {
  const where = { id: ref.resourceId, userId };
  const select = { status: true, createdAt: true } as const;
  // A batch has no status column and no event stream of its own (GET /batches/{id}).
  if (ref.resourceType === 'batch') throw AppError.notFound(NAMES.batch);
  const row =
    ref.resourceType === 'job'
      ? await db.job.findFirst({ where, select })
      : ref.resourceType === 'prompt'
        ? await db.prompt.findFirst({ where, select })
        : await db.modelVersion.findFirst({ where, select });
  if (!row) throw AppError.notFound(NAMES[ref.resourceType]);
  return row;
}

const NAMES = { job: 'Job', prompt: 'Prompt', version: 'Model', batch: 'Batch' } as const;

/**
 * Whether the resource has no event after `after`; for a final resource such a stream has nothing to
 * send, so the route answers 204 (EventSource stops reconnecting on it) instead of opening one.
 */
export async function nothingLeft(db: Db, ref: ResourceRef, after: bigint): Promise<boolean> {
  const next = await db.resourceEvent.findFirst({
    where: { resourceType: ref.resourceType, resourceId: ref.resourceId, id: { gt: after } },
    select: { id: true },
  });
  return next === null;
}

export function formatEvent(e: StreamedEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/** `Last-Event-ID` as an event id to resume after; anything else starts from the beginning. */
export function resumeAfter(header: string | undefined): bigint {
  return header && /^\d{1,19}$/.test(header.trim()) ? BigInt(header.trim()) : 0n;
}
