import type { IncrementResponse, Options, Store } from 'express-rate-limit';
import type { Db } from '../db/client';

/** How often one process deletes windows that have ended (every process does; it is idempotent). */
const SWEEP_EVERY_MS = 60_000;

/**
 * express-rate-limit's counters in Postgres, so every API process counts against the same
 * limit: two processes never allow twice it. Fixed windows aligned to the clock (the window's
 * start is part of the key): one upsert per request and limiter, on an UNLOGGED table.
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

  private window(now = Date.now()): { start: Date; reset: Date } {
    const start = now - (now % this.windowMs);
    return { start: new Date(start), reset: new Date(start + this.windowMs) };
  }

  async increment(key: string): Promise<IncrementResponse> {
    const { start, reset } = this.window();
    const rows = await this.db.$queryRaw<{ hits: number }[]>`
      INSERT INTO rate_limit_counters (key, window_start, hits) VALUES (${this.prefix + key}, ${start}, 1)
      ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limit_counters.hits + 1
      RETURNING hits`;
    return { totalHits: rows[0]!.hits, resetTime: reset };
  }

  async decrement(key: string): Promise<void> {
    const { start } = this.window();
    await this.db.$executeRaw`
      UPDATE rate_limit_counters SET hits = hits - 1 WHERE key = ${this.prefix + key} AND window_start = ${start} AND hits > 0`;
  }

  async resetKey(key: string): Promise<void> {
    await this.db.$executeRaw`DELETE FROM rate_limit_counters WHERE key = ${this.prefix + key}`;
  }

  async get(key: string): Promise<{ totalHits: number; resetTime: Date } | undefined> {
    const { start, reset } = this.window();
    const rows = await this.db.$queryRaw<{ hits: number }[]>`
      SELECT hits FROM rate_limit_counters WHERE key = ${this.prefix + key} AND window_start = ${start}`;
    return rows[0] ? { totalHits: rows[0].hits, resetTime: reset } : undefined;
  }

  async sweep(): Promise<void> {
    await this.db.$executeRaw`DELETE FROM rate_limit_counters WHERE window_start < ${new Date(Date.now() - 2 * this.windowMs)}`;
  }

  shutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
