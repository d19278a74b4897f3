import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Logger } from '../logger';
import { listenForKeyChanges, type KeyChanges } from './key-changes';
import { authenticate, type VerifiedKey } from './service';

/** How long a process trusts a key it verified, while it listens for key changes. */
const REMEMBER_MS = 30_000;
const REMEMBER_MAX = 10_000;
/** last_used_at is written at most this often per key. */
const TOUCH_EVERY_MS = 60_000;
/** How long a revocation waits to hear its own notification (see `changed`). */
const HEAR_TIMEOUT_MS = 1_000;

export interface KeyVerifier {
  /** The key's owner, or null for a missing, revoked or expired key. */
  verify(apiKey: string): Promise<VerifiedKey | null>;
  /**
   * Runs a change that ends a key (it notifies in its transaction), forgets the key here, and
   * waits until this process heard the notification: Postgres sends it to every listening
   * process at the same moment, so when the caller gets the answer, they all have it.
   */
  changed<T>(keyId: string, change: () => Promise<T>): Promise<T>;
  /** True while this process hears key changes. */
  readonly listening: boolean;
  /**
   * Calls `fn(keyId)` for every key change heard (a revocation or a rotation) and `fn(null)`
   * when the listener is lost, since changes may then be missed; returns the unsubscribe.
   * Open event streams end with their key this way (src/events/open-streams.ts).
   */
  onChange(fn: (keyId: string | null) => void): () => void;
}

/**
 * API key verification for one API process. Verified keys are remembered for 30 s, keyed by
 * the key itself (never stored), so hot read paths such as GET /status pay no database round
 * trip per request (README, B7). Revocation still takes effect at once in every process:
 * each listens for key changes (src/accounts/key-changes.ts) and forgets a changed key when
 * its change commits. The memory is used only while the listener is connected; without it
 * (start-up, a lost connection) every request is verified in the database, and what was
 * remembered is dropped, since a change may have been missed. A lookup that overlapped a
 * change is not remembered either. A rotated key's end (expires_at) is checked on every use.
 */
export function createKeyVerifier(deps: { db: Db; config: Config; logger: Logger }): KeyVerifier {
  const { db, config } = deps;
  const known = new Map<string, { key: VerifiedKey; until: number }>();
  const touched = new Map<string, number>();
  /** Bumped by every change heard and every loss of the listener. */
  let generation = 0;
  const observers = new Set<(keyId: string | null) => void>();

  const changes: KeyChanges = listenForKeyChanges({
    url: config.database.url,
    connectTimeoutMs: config.database.connectTimeoutMs,
    logger: deps.logger,
    onChange: (keyId) => {
      generation++;
      forget(keyId);
      for (const fn of observers) fn(keyId);
    },
    onLost: () => {
      generation++;
      known.clear();
      for (const fn of observers) fn(null);
    },
  });

  function forget(keyId: string): void {
    for (const [apiKey, entry] of known) if (entry.key.keyId === keyId) known.delete(apiKey);
  }

  function remember(apiKey: string, key: VerifiedKey): void {
    if (known.size >= REMEMBER_MAX) known.delete(known.keys().next().value!);
    known.set(apiKey, { key, until: Date.now() + REMEMBER_MS });
  }

  /** Records the use at most once a minute per key: per process here, across processes by the condition. */
  function touch(keyId: string, now: number): void {
    if (now - (touched.get(keyId) ?? 0) < TOUCH_EVERY_MS) return;
    if (touched.size >= REMEMBER_MAX) touched.delete(touched.keys().next().value!);
    touched.set(keyId, now);
    const cutoff = new Date(now - TOUCH_EVERY_MS);
    void db.apiKey
      .updateMany({ where: { id: keyId, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: cutoff } }] }, data: { lastUsedAt: new Date(now) } })
      .catch((err: Error) => deps.logger.warn({ err: err.message, keyId }, 'could not record when an API key was used'));
  }

  return {
    async verify(apiKey) {
      changes.ensure();
      const now = Date.now();
      const hit = changes.listening ? known.get(apiKey) : undefined;
      if (hit && hit.until > now && !(hit.key.expiresAt && hit.key.expiresAt.getTime() <= now)) {
        touch(hit.key.keyId, now);
        return hit.key;
      }
      if (hit) known.delete(apiKey);
      const before = generation;
      const trusted = changes.listening;
      const key = await authenticate(db, config.apiKeyPepper, apiKey);
      if (!key) return null;
      if (trusted && changes.listening && generation === before) remember(apiKey, key);
      touch(key.keyId, now);
      return key;
    },

    async changed(keyId, change) {
      const heard = changes.heard(keyId, HEAR_TIMEOUT_MS);
      const result = await change();
      forget(keyId);
      await heard;
      return result;
    },

    get listening() {
      return changes.listening;
    },

    onChange(fn) {
      const observer = (keyId: string | null) => fn(keyId);
      observers.add(observer);
      return () => observers.delete(observer);
    },
  };
}
