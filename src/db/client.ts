import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client';

export type Db = PrismaClient;
export type { Prisma } from '../generated/prisma/client';

/** One Prisma client per process, on the pg driver adapter (no query engine binary). */
export function createDb(url: string, poolSize = 10, opts: { onQuery?: (sql: string) => void } = {}): Db {
  const adapter = new PrismaPg({ connectionString: url, max: poolSize });
  if (!opts.onQuery) return new PrismaClient({ adapter });
  const db = new PrismaClient({ adapter, log: [{ emit: 'event', level: 'query' }] });
  db.$on('query', (e) => opts.onQuery!(e.query));
  return db;
}
