import { listenOnChannel } from '../db/listen';
import type { Logger } from '../logger';

/** Revocations and rotations notify this channel with the key id, in the transaction that changes the key. */
export const KEY_CHANGES_CHANNEL = 'api_key_changes';
/** The listening connection's application_name, as pg_stat_activity shows it. */
export const KEY_CHANGES_APPLICATION_NAME = 'api-key-changes';

export interface KeyChanges {
  /** True while this process receives the notifications: only then may it trust what it remembers about keys. */
  readonly listening: boolean;
  /** Opens the listening connection unless it is open or was tried less than a second ago. */
  ensure(): void;
  /**
   * Resolves true once this process hears the notification for `keyId`, false after
   * `timeoutMs` or at once when not listening. Call it BEFORE the change commits.
   */
  heard(keyId: string, timeoutMs: number): Promise<boolean>;
}

/**
 * One dedicated Postgres connection per API process that LISTENs on KEY_CHANGES_CHANNEL
 * (Prisma's pooled connections cannot). `onChange(keyId)` runs for each notification;
 * `onLost()` when the connection ends, since notifications sent while it is down are lost
 * for good. The connection is opened on first use (ensure), so an app that never serves a
 * request opens none, and reopened the same way after a loss.
 */
export function listenForKeyChanges(opts: {
  url: string;
  connectTimeoutMs: number;
  logger: Logger;
  onChange: (keyId: string) => void;
  onLost: () => void;
}): KeyChanges {
  const waiters = new Map<string, Set<(heard: boolean) => void>>();
  const listener = listenOnChannel({
    url: opts.url,
    connectTimeoutMs: opts.connectTimeoutMs,
    channel: KEY_CHANGES_CHANNEL,
    applicationName: KEY_CHANGES_APPLICATION_NAME,
    onNotification: (keyId) => {
      opts.onChange(keyId);
      for (const resolve of waiters.get(keyId) ?? []) resolve(true);
      waiters.delete(keyId);
    },
    onLost: (err) => {
      if (err) opts.logger.warn({ err: err.message }, 'API key change listener lost; verifying every key in the database until it is back');
      opts.onLost();
    },
  });

  return {
    get listening() {
      return listener.listening;
    },
    ensure: () => listener.ensure(),
    heard(keyId, timeoutMs) {
      if (!listener.listening) return Promise.resolve(false);
      return new Promise((resolve) => {
        const set = waiters.get(keyId) ?? new Set();
        waiters.set(keyId, set);
        const done = (heard: boolean) => {
          clearTimeout(timer);
          set.delete(done);
          if (set.size === 0 && waiters.get(keyId) === set) waiters.delete(keyId);
          resolve(heard);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        set.add(done);
      });
    },
  };
}
