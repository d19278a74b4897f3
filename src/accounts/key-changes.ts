import { Client } from 'pg';
import type { Logger } from '../logger';

/** Revocations and rotations notify this channel with the key id, in the transaction that changes the key. */
export const KEY_CHANGES_CHANNEL = 'api_key_changes';
/** The listening connection's application_name, as pg_stat_activity shows it. */
export const KEY_CHANGES_APPLICATION_NAME = 'api-key-changes';
/** A lost listening connection is opened again on demand, at most this often. */
const RECONNECT_EVERY_MS = 1_000;

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
  let client: Client | undefined;
  let listening = false;
  let lastAttempt = 0;
  const waiters = new Map<string, Set<(heard: boolean) => void>>();

  const lost = (current: Client, err?: Error) => {
    if (client !== current) return;
    client = undefined;
    listening = false;
    if (err) opts.logger.warn({ err: err.message }, 'API key change listener lost; verifying every key in the database until it is back');
    opts.onLost();
    void current.end().catch(() => undefined);
  };

  const connect = async () => {
    const current = new Client({
      connectionString: opts.url,
      connectionTimeoutMillis: opts.connectTimeoutMs,
      keepAlive: true,
      application_name: KEY_CHANGES_APPLICATION_NAME,
    });
    client = current;
    current.on('error', (err) => lost(current, err));
    current.on('end', () => lost(current));
    current.on('notification', (msg) => {
      if (msg.channel !== KEY_CHANGES_CHANNEL || !msg.payload) return;
      opts.onChange(msg.payload);
      for (const resolve of waiters.get(msg.payload) ?? []) resolve(true);
      waiters.delete(msg.payload);
    });
    try {
      await current.connect();
      await current.query(`LISTEN ${KEY_CHANGES_CHANNEL}`);
      if (client === current) listening = true;
    } catch (err) {
      lost(current, err as Error);
    }
  };

  return {
    get listening() {
      return listening;
    },
    ensure() {
      if (client || Date.now() - lastAttempt < RECONNECT_EVERY_MS) return;
      lastAttempt = Date.now();
      void connect();
    },
    heard(keyId, timeoutMs) {
      if (!listening) return Promise.resolve(false);
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
