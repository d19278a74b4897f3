import type { Db, Prisma } from './client';

/** A transaction client: functions taking one run inside their caller's transaction. */
export type Tx = Prisma.TransactionClient;

/** A client or a transaction: functions taking it join the caller's transaction, or open their own. */
export type DbOrTx = Db | Tx;

/** Runs `fn` in the caller's transaction if `db` is one, else in a new transaction. */
export function inTransaction<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return '$transaction' in db ? db.$transaction(fn) : fn(db);
}
