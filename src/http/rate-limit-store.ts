import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Db } from '../db/client';

/** How often one process deletes windows that have ended (every process does; it is idempotent). */
const SWEEP_EVERY_MS = 60_000;

/**
 * express-rate-limit's counters in Postgres, so every API process counts against the same
 * limit: two processes never allow twice it. One row per key; its window starts at the key's
 * first hit and a hit after the window has passed starts the next one (the database's clock
 * decides, so processes agree). One upsert per request and limiter, on an UNLOGGED table.
 * Ended windows are swept once a minute.
 */
export class PostgresRateLimitStore implements Store {
  /** Counters live in the database, not in this process. */
  readonly localKeys = false;
  private windowMs = 60_000;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    /** Namespaces this limiter's keys (each limiter has its own store). */
    readonly prefix: string,
  ) {}

  init(options: Options): void {
    this.windowMs = options.windowMs;
    this.sweeper ??= setInterval(() => void this.sweep().catch(() => undefined), SWEEP_EVERY_MS).unref();
  }

  private get interval(): string {
    return `${this.windowMs} milliseconds`;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const rows = await this.db.$queryRaw<{ hits: number; reset: Date }[]>`
      INSERT INTO rate_limit_counters AS c (key, window_start, hits) VALUES (${this.prefix + key}, now(), 1)
      ON CONFLICT (key) DO UPDATE SET
        hits = CASE WHEN c.window_start <= now() - ${this.interval}::interval THEN 1 ELSE c.hits + 1 END,
        window_start = CASE WHEN c.window_start <= now() - ${this.interval}::interval THEN now() ELSE c.window_start END
      RETURNING hits, window_start + ${this.interval}::interval AS reset`;
    return { totalHits: rows[0]!.hits, resetTime: rows[0]!.reset };
  }

  async decrement(key: string): Promise<void> {
    await this.db.$executeRaw`
      UPDATE rate_limit_counters SET hits = hits - 1
       WHERE key = ${this.prefix + key} AND hits > 0 AND window_start > now() - ${this.interval}::interval`;
  }

  async resetKey(key: string): Promise<void> {
    await this.db.$executeRaw`DELETE FROM rate_limit_counters WHERE key = ${this.prefix + key}`;
  }

  async get(key: string): Promise<{ totalHits: number; resetTime: Date } | undefined> {
    const rows = await this.db.$queryRaw<{ hits: number; reset: Date }[]>`
      SELECT hits, window_start + ${this.interval}::interval AS reset FROM rate_limit_counters
       WHERE key = ${this.prefix + key} AND window_start > now() - ${this.interval}::interval`;
    return rows[0] ? { totalHits: rows[0].hits, resetTime: rows[0].reset } : undefined;
  }

  async sweep(): Promise<void> {
    await this.db.$executeRaw`DELETE FROM rate_limit_counters WHERE window_start <= now() - ${this.interval}::interval`;
  }

  shutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
