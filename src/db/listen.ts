import { Client } from 'pg';

/** A lost listening connection is opened again on demand, at most this often. */
const RECONNECT_EVERY_MS = 1_000;

export interface ChannelListener {
  /** True while the connection is open and LISTENing: only then are notifications heard. */
  readonly listening: boolean;
  /** Opens the connection unless it is open, closed for good, or was tried less than a second ago. */
  ensure(): void;
  /** Ends the connection for good. */
  close(): Promise<void>;
}

/**
 * One dedicated Postgres connection that LISTENs on `channel` (Prisma's pooled connections
 * cannot), opened on first `ensure()` and reopened the same way after a loss. Notifications sent
 * while it is down are lost for good, so `onLost` tells the owner to stop trusting what it heard,
 * and `onListening` that listening (again) has begun: what was committed before it was not heard.
 * Used by the API key change listener and the resource event fan-out.
 */
export function listenOnChannel(opts: {
  url: string;
  connectTimeoutMs: number;
  channel: string;
  /** As pg_stat_activity shows the connection. */
  applicationName: string;
  onNotification: (payload: string) => void;
  onListening?: () => void;
  /** The connection ended; `err` when it failed (not after close()). */
  onLost: (err?: Error) => void;
}): ChannelListener {
  let client: Client | undefined;
  let listening = false;
  let closed = false;
  let lastAttempt = 0;

  const lost = (current: Client, err?: Error) => {
    if (client !== current) return;
    client = undefined;
    listening = false;
    opts.onLost(closed ? undefined : err);
    void current.end().catch(() => undefined);
  };

  const connect = async () => {
    const current = new Client({ connectionString: opts.url, connectionTimeoutMillis: opts.connectTimeoutMs, keepAlive: true, application_name: opts.applicationName });
    client = current;
    current.on('error', (err) => lost(current, err));
    current.on('end', () => lost(current));
    current.on('notification', (msg) => {
      if (msg.channel === opts.channel && msg.payload) opts.onNotification(msg.payload);
    });
    try {
      await current.connect();
      await current.query(`LISTEN ${opts.channel}`);
      if (client !== current) return;
      listening = true;
      opts.onListening?.();
    } catch (err) {
      lost(current, err as Error);
    }
  };

  return {
    get listening() {
      return listening;
    },
    ensure() {
      if (closed || client || Date.now() - lastAttempt < RECONNECT_EVERY_MS) return;
      lastAttempt = Date.now();
      void connect();
    },
    async close() {
      closed = true;
      const current = client;
      client = undefined;
      listening = false;
      if (current) await current.end().catch(() => undefined);
    },
  };
}
