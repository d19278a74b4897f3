import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import type { Logger } from '../logger';

/** Retry-After of a refused stream: about how long until a stream of the key ends or a client gives one up. */
const CAP_RETRY_AFTER_SECONDS = 5;
/** While the key change listener is down, the keys of open streams are checked in the database this often. */
const RECHECK_EVERY_MS = 5_000;
/**
 * A stream opened this soon after a change of its key was heard reads the key once: the change
 * may have come between the request's verification and the stream's opening.
 */
const RECENT_CHANGE_MS = 60_000;

export interface StreamLimits {
  /** Open streams per API key, per API process. */
  maxPerKey: number;
  /** Open streams per API process, all keys together. */
  maxTotal: number;
  /** No stream lives longer; a rotated key's streams end when the key expires, if that is sooner. */
  maxLifetimeMs: number;
}

/** The API key a stream was opened with. */
export interface StreamKey {
  keyId: string;
  expiresAt: Date | null;
}

/** Where a process hears of API key changes (src/accounts/key-verifier.ts). */
export interface KeyChangeSource {
  /** True while changes are heard; otherwise open streams' keys are checked in the database. */
  readonly listening: boolean;
  /** `fn(keyId)` for each change heard; `fn(null)` when changes may have been missed. */
  onChange(fn: (keyId: string | null) => void): () => void;
}

export interface OpenStream {
  /** Aborted when the stream must end: its key was revoked or expired, or `end` was called. */
  readonly signal: AbortSignal;
  /** Ends the stream (the client went away). */
  end(): void;
  /** Gives the slot back; call once, when the response is over. */
  release(): void;
}

export interface OpenStreams {
  /** Counts a new stream of the key: 429 too_many_streams over the key's cap, 503 over the process's. */
  open(key: StreamKey): OpenStream;
  /** Open streams: of one key, or of the process. */
  count(keyId?: string): number;
  close(): void;
}

interface Entry {
  controller: AbortController;
}

/**
 * The event streams open on this API process, by API key: bounds the number each key (and the
 * process) may hold and ends a key's streams when the key stops working. A revocation or
 * rotation is heard on the key change channel; the key is then read once (one query per
 * change, only for keys with open streams here): revoked or expired ends its streams at once,
 * a rotation's end (expires_at) ends them then. Counts are per process, like the request rate
 * limits: with N API processes behind a balancer a key may hold up to N × maxPerKey streams.
 */
export function createOpenStreams(deps: { db: Db; logger: Logger; limits: StreamLimits; keys: KeyChangeSource }): OpenStreams {
  const { limits } = deps;
  const byKey = new Map<string, Set<Entry>>();
  const expiryTimers = new Map<string, NodeJS.Timeout>();
  let total = 0;
  let recheckTimer: NodeJS.Timeout | undefined;
  let wasListening = true;
  const recentChanges = new Map<string, number>();

  function endKey(keyId: string): void {
    for (const entry of byKey.get(keyId) ?? []) entry.controller.abort();
  }

  function endKeyAt(keyId: string, at: Date): void {
    const delay = at.getTime() - Date.now();
    if (delay <= 0) return endKey(keyId);
    if (delay > limits.maxLifetimeMs || expiryTimers.has(keyId)) return; // the streams end sooner anyway
    const timer = setTimeout(() => {
      expiryTimers.delete(keyId);
      endKey(keyId);
    }, delay);
    timer.unref();
    expiryTimers.set(keyId, timer);
  }

  /** Reads the keys and ends the streams of those that no longer work. */
  async function check(keyIds: string[]): Promise<void> {
    if (keyIds.length === 0) return;
    try {
      const rows = await deps.db.apiKey.findMany({ where: { id: { in: keyIds } }, select: { id: true, revokedAt: true, expiresAt: true } });
      const found = new Map(rows.map((r) => [r.id, r]));
      for (const keyId of keyIds) {
        const row = found.get(keyId);
        if (!row || row.revokedAt) endKey(keyId);
        else if (row.expiresAt) endKeyAt(keyId, row.expiresAt);
      }
    } catch (err) {
      deps.logger.warn({ err: (err as Error).message }, 'could not check the API keys of open event streams');
    }
  }

  deps.keys.onChange((keyId) => {
    if (keyId === null) return void check([...byKey.keys()]);
    const now = Date.now();
    for (const [id, at] of recentChanges) if (now - at > RECENT_CHANGE_MS) recentChanges.delete(id);
    recentChanges.set(keyId, now);
    if (byKey.has(keyId)) void check([keyId]);
  });

  /** While any stream is open: a missed change is caught by reading the keys while the listener is down, and once when it is back. */
  function updateRecheck(): void {
    if (total > 0 && !recheckTimer) {
      recheckTimer = setInterval(() => {
        const listening = deps.keys.listening;
        if (!listening || !wasListening) void check([...byKey.keys()]);
        wasListening = listening;
      }, RECHECK_EVERY_MS);
      recheckTimer.unref();
    } else if (total === 0 && recheckTimer) {
      clearInterval(recheckTimer);
      recheckTimer = undefined;
    }
  }

  return {
    open(key) {
      const set = byKey.get(key.keyId) ?? new Set<Entry>();
      if (set.size >= limits.maxPerKey) {
        throw new AppError(
          429,
          ErrorCode.tooManyStreams,
          `This API key already has ${set.size} open event streams (the limit is ${limits.maxPerKey}); close one first`,
          { limit: limits.maxPerKey, retry_after_seconds: CAP_RETRY_AFTER_SECONDS },
          { 'Retry-After': String(CAP_RETRY_AFTER_SECONDS) },
        );
      }
      if (total >= limits.maxTotal) {
        throw AppError.unavailable('This server has as many open event streams as it serves; try again in a few seconds', { component: 'event_streams' });
      }
      const entry: Entry = { controller: new AbortController() };
      set.add(entry);
      byKey.set(key.keyId, set);
      total++;
      // Opened while key changes are not heard (yet): the next round reads the key once.
      if (!deps.keys.listening) wasListening = false;
      updateRecheck();
      if (key.expiresAt) endKeyAt(key.keyId, key.expiresAt);
      if (recentChanges.has(key.keyId)) void check([key.keyId]);
      let released = false;
      return {
        signal: entry.controller.signal,
        end: () => entry.controller.abort(),
        release() {
          if (released) return;
          released = true;
          total--;
          set.delete(entry);
          if (set.size === 0 && byKey.get(key.keyId) === set) {
            byKey.delete(key.keyId);
            clearTimeout(expiryTimers.get(key.keyId));
            expiryTimers.delete(key.keyId);
          }
          updateRecheck();
        },
      };
    },

    count(keyId) {
      return keyId === undefined ? total : (byKey.get(keyId)?.size ?? 0);
    },

    close() {
      if (recheckTimer) clearInterval(recheckTimer);
      recheckTimer = undefined;
      for (const timer of expiryTimers.values()) clearTimeout(timer);
      expiryTimers.clear();
    },
  };
}
