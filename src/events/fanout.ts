import type { Db } from '../db/client';
import { listenOnChannel } from '../db/listen';
import type { Logger } from '../logger';
import { EVENT_TYPES, RESOURCE_TYPES, type EventType, type ResourceRef, type ResourceType } from './types';

/**
 * recordEvent (src/events/record.ts) notifies this channel in the transaction that writes the
 * event, so the notification goes out when the event is committed and never for a rollback.
 * The payload is `<resource type>:<resource id>:<event id>:<event type>` (parseNotification).
 */
export const RESOURCE_EVENTS_CHANNEL = 'resource_events';
/** The listening connection's application_name, as pg_stat_activity shows it. */
export const RESOURCE_EVENTS_APPLICATION_NAME = 'resource-events';
/** While the listener is down, every subscriber is woken this often to read the table itself. */
export const FALLBACK_POLL_MS = 2_000;

/** What a notification says: this event of the resource was committed. */
export interface EventHint {
  id: bigint;
  type: EventType;
}

/**
 * Why a subscriber is called:
 * - `event`: a notification for its resource;
 * - `missed`: notifications may have been lost (the listener has just (re)connected, or it is
 *   down and this is the slow poll): read the table;
 * - `closed`: the process is shutting down; no more calls follow.
 */
export type Wake = { kind: 'event'; event: EventHint } | { kind: 'missed' } | { kind: 'closed' };

export interface FinalEvent {
  id: bigint;
  data: unknown;
}

export interface EventFanout {
  /** True while this process receives the notifications. */
  readonly listening: boolean;
  /** Calls `onWake` for the resource's new events until the returned function is called. */
  subscribe(ref: ResourceRef, onWake: (wake: Wake) => void): () => void;
  /**
   * The resource's `completed` event once it is written, at once if it already is; null after
   * `timeoutMs`, when the fan-out closes or when `signal` aborts (the caller went away). One
   * indexed read, then one per notification of a `completed` event for the resource (or per
   * slow poll while the listener is down).
   */
  waitForFinal(ref: ResourceRef, timeoutMs: number, signal?: AbortSignal): Promise<FinalEvent | null>;
  /** Ends the listener; every subscriber gets `closed`. */
  close(): Promise<void>;
}

const refKey = (resourceType: string, resourceId: string) => `${resourceType}:${resourceId}`;

/** The resource and event a notification payload names, or null for anything else. */
export function parseNotification(payload: string): { ref: ResourceRef; event: EventHint } | null {
  const [resourceType, resourceId, id, type] = payload.split(':');
  if (!RESOURCE_TYPES.includes(resourceType as ResourceType) || !resourceId || !id || !/^\d{1,19}$/.test(id)) return null;
  if (!EVENT_TYPES.includes(type as EventType)) return null;
  return { ref: { resourceType: resourceType as ResourceType, resourceId }, event: { id: BigInt(id), type: type as EventType } };
}

/**
 * One dedicated Postgres connection per API process that LISTENs on RESOURCE_EVENTS_CHANNEL
 * and fans each notification out to the in-process subscribers of that resource (event
 * streams, held requests), so no subscriber polls the table. The connection is opened when the
 * first subscriber comes (a process that never streams opens none) and stays open. When it is
 * lost, notifications sent meanwhile are lost for good: every subscriber is then woken every
 * FALLBACK_POLL_MS to read the table itself while it is reopened, and once more when it is
 * back. The connection itself is src/db/listen.ts, shared with the API key change listener.
 */
export function createEventFanout(opts: { url: string; connectTimeoutMs: number; logger: Logger; db: Db }): EventFanout {
  let closed = false;
  let fallback: NodeJS.Timeout | undefined;
  const subscribers = new Map<string, Set<(wake: Wake) => void>>();

  const everyone = (wake: Wake) => {
    for (const set of [...subscribers.values()]) for (const fn of [...set]) fn(wake);
  };

  /** The slow poll runs only while someone is subscribed and the listener is not connected. */
  const updateFallback = () => {
    const needed = !closed && !listener.listening && subscribers.size > 0;
    if (needed && !fallback) {
      fallback = setInterval(() => {
        ensure();
        everyone({ kind: 'missed' });
      }, FALLBACK_POLL_MS);
      fallback.unref();
    } else if (!needed && fallback) {
      clearInterval(fallback);
      fallback = undefined;
    }
  };

  const listener = listenOnChannel({
    url: opts.url,
    connectTimeoutMs: opts.connectTimeoutMs,
    channel: RESOURCE_EVENTS_CHANNEL,
    applicationName: RESOURCE_EVENTS_APPLICATION_NAME,
    onNotification: (payload) => {
      const parsed = parseNotification(payload);
      if (!parsed) return;
      const set = subscribers.get(refKey(parsed.ref.resourceType, parsed.ref.resourceId));
      for (const fn of [...(set ?? [])]) fn({ kind: 'event', event: parsed.event });
    },
    onListening: () => {
      updateFallback();
      // Whatever was committed before LISTEN took effect was not heard: everyone reads once.
      everyone({ kind: 'missed' });
    },
    onLost: (err) => {
      if (err) opts.logger.warn({ err: err.message }, 'resource event listener lost; event streams read the table every 2 s until it is back');
      updateFallback();
    },
  });
  const ensure = () => listener.ensure();

  const fanout: EventFanout = {
    get listening() {
      return listener.listening;
    },

    subscribe(ref, onWake) {
      if (closed) {
        queueMicrotask(() => onWake({ kind: 'closed' }));
        return () => undefined;
      }
      const key = refKey(ref.resourceType, ref.resourceId);
      const set = subscribers.get(key) ?? new Set();
      subscribers.set(key, set);
      // A wrapper per subscription, so one callback subscribed twice unsubscribes once.
      const fn = (wake: Wake) => onWake(wake);
      set.add(fn);
      ensure();
      updateFallback();
      return () => {
        set.delete(fn);
        if (set.size === 0 && subscribers.get(key) === set) subscribers.delete(key);
        updateFallback();
      };
    },

    async waitForFinal(ref, timeoutMs, signal) {
      const read = () =>
        opts.db.resourceEvent.findFirst({
          where: { resourceType: ref.resourceType, resourceId: ref.resourceId, type: 'completed' },
          orderBy: { id: 'asc' },
          select: { id: true, data: true },
        });
      return new Promise<FinalEvent | null>((resolve, reject) => {
        let done = false;
        let reading = false;
        let again = false;
        const finish = (result: FinalEvent | null, err?: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          unsubscribe();
          signal?.removeEventListener('abort', aborted);
          if (err) reject(err);
          else resolve(result);
        };
        const check = async () => {
          if (reading) {
            again = true; // a burst of wake-ups is one more read
            return;
          }
          reading = true;
          try {
            do {
              again = false;
              const found = await read();
              if (found) return finish(found);
            } while (again && !done);
          } catch (err) {
            finish(null, err);
          } finally {
            reading = false;
          }
        };
        const aborted = () => finish(null);
        const timer = setTimeout(() => finish(null), timeoutMs);
        timer.unref();
        const unsubscribe = fanout.subscribe(ref, (wake) => {
          if (wake.kind === 'closed') finish(null);
          else if (wake.kind === 'missed' || wake.event.type === 'completed') void check();
        });
        if (signal?.aborted) return finish(null);
        signal?.addEventListener('abort', aborted);
        void check();
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      updateFallback();
      everyone({ kind: 'closed' });
      subscribers.clear();
      await listener.close();
    },
  };
  return fanout;
}
