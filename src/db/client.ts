import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
import type { Config } from '../config';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;
export type { Prisma } from '../generated/prisma/client';

export type DbTimeouts = Pick<Config['database'], 'connectTimeoutMs' | 'statementTimeoutMs' | 'idleInTransactionTimeoutMs'>;

/** The defaults of src/config.ts, for scripts and benchmarks that build a client without the config. */
const DEFAULT_TIMEOUTS: DbTimeouts = { connectTimeoutMs: 5_000, statementTimeoutMs: 15_000, idleInTransactionTimeoutMs: 15_000 };
/**
 * The client stops waiting for an answer this long after Postgres would have cancelled the
 * statement itself: only a silent network (no answer, no reset) gets that far.
 */
const QUERY_TIMEOUT_MARGIN_MS = 5_000;
/** TCP keepalive probes start after this much silence, so a connection to a vanished host is found dead. */
const KEEPALIVE_INITIAL_DELAY_MS = 10_000;

/**
 * The pool's settings: fail fast while Postgres is unreachable (a bounded connect, which also
 * bounds the wait for a free connection), statements and idle transactions cancelled by the
 * server, a client-side read timeout for a silent network, and TCP keepalive.
 */
export function poolConfig(url: string, poolSize: number, timeouts: DbTimeouts): PoolConfig {
  return {
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: timeouts.connectTimeoutMs,
    statement_timeout: timeouts.statementTimeoutMs,
    idle_in_transaction_session_timeout: timeouts.idleInTransactionTimeoutMs,
    query_timeout: timeouts.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
  };
}

/** One Prisma client per process, on the pg driver adapter (no query engine binary). */
export function createDb(
  url: string,
  poolSize = 10,
  opts: { onQuery?: (sql: string) => void; timeouts?: DbTimeouts } = {},
): Db {
  const adapter = new PrismaPg(poolConfig(url, poolSize, opts.timeouts ?? DEFAULT_TIMEOUTS));
  if (!opts.onQuery) return new PrismaClient({ adapter });
  const db = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  db.$on('query', (e) => opts.onQuery!(e.query));
  return db;
}
