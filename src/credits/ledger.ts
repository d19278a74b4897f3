import { randomUUID } from 'node:crypto';
import type { DbOrTx, Tx } from '../db/transaction';
import { countLedgerMovement } from '../metrics/business';

/**
 * A user's credits: counters on credit_balances plus one ledger row per movement. Every
 * function runs inside the caller's transaction and is idempotent through the ledger's
 * unique `key`: a retried activity or a redelivered webhook finds its row and changes
 * nothing. A CHECK constraint keeps both counters >= 0 whatever happens.
 *
 *   topup    a credit pack was paid                          credits += n
 *   reserve  a job was accepted (its maximum cost)           credits -= n, reserved += n
 *   commit   the job finished: what it actually cost k       reserved -= k
 *   release  the rest (all of it on failure or cancel)       reserved -= n - k, credits += n - k
 */
type Movement = 'topup' | 'reserve' | 'commit' | 'release';

export interface Balance {
  credits: number;
  reserved: number;
}

async function record(
  tx: Tx,
  row: { key: string; movement: Movement; userId: string; credits: number; jobId?: string; purchaseId?: string },
): Promise<boolean> {
  const inserted = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO credit_ledger (id, user_id, key, movement, credits, job_id, purchase_id)
    VALUES (${randomUUID()}::uuid, ${row.userId}::uuid, ${row.key}, ${row.movement}::credit_movement, ${row.credits},
            ${row.jobId ?? null}::uuid, ${row.purchaseId ?? null}::uuid)
    ON CONFLICT (key) DO NOTHING
    RETURNING id`;
  if (inserted.length === 1) countLedgerMovement('credits', row.movement, row.credits);
  return inserted.length === 1;
}

/** Adds a paid purchase's credits. Returns false if this purchase was already credited. */
export async function topUp(tx: Tx, req: { userId: string; purchaseId: string; credits: number }): Promise<boolean> {
  if (!(await record(tx, { key: `topup:${req.purchaseId}`, movement: 'topup', ...req }))) return false;
  await tx.$executeRaw`
    INSERT INTO credit_balances (user_id, credits) VALUES (${req.userId}::uuid, ${req.credits})
    ON CONFLICT (user_id) DO UPDATE SET credits = credit_balances.credits + EXCLUDED.credits, updated_at = now()`;
  return true;
}

export type ReserveResult = { reserved: true } | { reserved: false; available: number };

/** Reserves a job's maximum cost in one conditional update: never below zero, under any concurrency. */
export async function reserveCredits(tx: Tx, req: { userId: string; jobId: string; credits: number }): Promise<ReserveResult> {
  const key = `reserve:${req.jobId}`;
  const updated = await tx.$executeRaw`
    UPDATE credit_balances
       SET credits = credits - ${req.credits}, reserved = reserved + ${req.credits}, updated_at = now()
     WHERE user_id = ${req.userId}::uuid
       AND credits >= ${req.credits}
       AND NOT EXISTS (SELECT 1 FROM credit_ledger WHERE key = ${key})`;
  if (updated === 0) {
    if (await tx.creditLedger.findUnique({ where: { key }, select: { id: true } })) return { reserved: true };
    return { reserved: false, available: (await getBalance(tx, req.userId)).credits };
  }
  await record(tx, { key, movement: 'reserve', ...req });
  return { reserved: true };
}

/**
 * Settles a job's reservation: commits `used` credits (at most what was reserved) and
 * releases the rest; used = 0 is a plain release (failure, cancel). Only the first call
 * moves anything. Returns the credits committed, or null if there was nothing to settle.
 */
export async function settleCredits(tx: Tx, req: { jobId: string; used: number }): Promise<number | null> {
  const reserved = await tx.creditLedger.findUnique({ where: { key: `reserve:${req.jobId}` }, select: { userId: true, credits: true } });
  if (!reserved) return null;
  const { userId } = reserved;
  const used = Math.min(req.used, reserved.credits);
  const released = reserved.credits - used;
  // The settle marker is the release row (written even for 0), so a second settle does nothing.
  if (!(await record(tx, { key: `release:${req.jobId}`, movement: 'release', userId, jobId: req.jobId, credits: released }))) return null;
  if (used > 0) await record(tx, { key: `commit:${req.jobId}`, movement: 'commit', userId, jobId: req.jobId, credits: used });
  await tx.$executeRaw`
    UPDATE credit_balances
       SET reserved = reserved - ${reserved.credits}, credits = credits + ${released}, updated_at = now()
     WHERE user_id = ${userId}::uuid`;
  return used;
}

/** The caller's counters (zero before the first purchase). */
export async function getBalance(db: DbOrTx, userId: string): Promise<Balance> {
  const row = await db.creditBalance.findUnique({ where: { userId }, select: { credits: true, reserved: true } });
  return row ?? { credits: 0, reserved: 0 };
}

/** Sums the ledger, to prove the counters equal it. */
export async function ledgerBalance(db: DbOrTx, userId: string): Promise<Balance> {
  const rows = await db.creditLedger.groupBy({ by: ['movement'], where: { userId }, _sum: { credits: true } });
  const sum = (m: Movement) => rows.find((r) => r.movement === m)?._sum.credits ?? 0;
  return { credits: sum('topup') - sum('reserve') + sum('release'), reserved: sum('reserve') - sum('commit') - sum('release') };
}
