import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import type { DbOrTx, Tx } from '../db/transaction';
import { Prisma } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { countLedgerMovement } from '../metrics/business';
import { accountInDebtError, takeBackTarget } from '../payments/take-back';

/**
 * A user's credits: counters on credit_balances plus one ledger row per movement. Every
 * function runs inside the caller's transaction (the reserve is one statement of its own) and
 * is idempotent through the ledger's unique `key`: a retried activity or a redelivered webhook
 * finds its row and changes nothing. A CHECK constraint keeps both counters >= 0 whatever happens.
 *
 *   topup    a credit pack was paid                          credits += n
 *   reserve  a job was accepted (its maximum cost)           credits -= n, reserved += n
 *   commit   the job finished: what it actually cost k       reserved -= k
 *   release  the rest (all of it on failure or cancel)       reserved -= n - k, credits += n - k
 *
 * When Stripe gives money back (a refund, a dispute), the credits it bought go back too:
 *
 *   takeback   what is left of the n credits to take back: k     credits -= k
 *   owe        the rest, already spent                           owed += n - k
 *   giveback   a dispute was won: its n credits come back, the   credits += n - f
 *   forgive    part still owed (f) is simply no longer owed      owed -= f
 *   debt_paid  a later top-up, or credits a job's reservation     credits -= d, owed -= d
 *              releases later, pay what is owed first: d
 *
 * While anything is owed, here or on any of the user's models (quota_ledger), no job can
 * reserve credits (402 account_in_debt).
 */
type Movement = 'topup' | 'reserve' | 'commit' | 'release' | 'takeback' | 'owe' | 'giveback' | 'forgive' | 'debt_paid';

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

/**
 * Adds a paid purchase's credits, then pays what the user owes from them. Returns false if
 * this purchase was already credited.
 */
export async function topUp(tx: Tx, req: { userId: string; purchaseId: string; credits: number }): Promise<boolean> {
  if (!(await record(tx, { key: `topup:${req.purchaseId}`, movement: 'topup', ...req }))) return false;
  await tx.$executeRaw`
    INSERT INTO credit_balances (user_id, credits) VALUES (${req.userId}::uuid, ${req.credits})
    ON CONFLICT (user_id) DO UPDATE SET credits = credit_balances.credits + EXCLUDED.credits, updated_at = now()`;
  await payDebt(tx, { userId: req.userId, key: `debt-paid:${req.purchaseId}`, purchaseId: req.purchaseId });
  return true;
}

/** The user's counters, locked until the transaction ends (zero if they never had credits). */
async function lockBalance(tx: Tx, userId: string): Promise<{ credits: number; owed: number }> {
  const rows = await tx.$queryRaw<{ credits: number; owed: number }[]>`
    SELECT credits, owed FROM credit_balances WHERE user_id = ${userId}::uuid FOR UPDATE`;
  return rows[0] ?? { credits: 0, owed: 0 };
}

/**
 * Pays what the user owes from their credits, as far as they go: after a purchase added some, or
 * a job's reservation released some (credits that were reserved when a refund took the rest).
 */
async function payDebt(tx: Tx, req: { userId: string; key: string; purchaseId?: string; jobId?: string }): Promise<void> {
  const balance = await lockBalance(tx, req.userId);
  const paid = Math.min(balance.owed, balance.credits);
  if (paid <= 0) return;
  if (!(await record(tx, { key: req.key, movement: 'debt_paid', userId: req.userId, purchaseId: req.purchaseId, jobId: req.jobId, credits: paid }))) return;
  await tx.$executeRaw`
    UPDATE credit_balances SET credits = credits - ${paid}, owed = owed - ${paid}, updated_at = now() WHERE user_id = ${req.userId}::uuid`;
}

/**
 * Brings what a paid purchase has taken back in line with what its refunds and disputes now
 * hold (refunded_cents + disputed_cents, src/payments/take-back.ts), in one step keyed by the
 * Stripe event's effect: more held takes credits back, less held (a dispute won) gives them
 * back. The purchase row is locked, so concurrent events add up exactly. Returns the credits
 * moved: positive taken back, negative given back, 0 if nothing changed.
 */
export async function syncPurchaseTakeBack(tx: Tx, req: { purchaseId: string; key: string }): Promise<number> {
  const rows = await tx.$queryRaw<{ user_id: string; credits: number; amount_cents: number | null; held: number; taken_back: number; paid: boolean }[]>`
    SELECT user_id, credits, amount_cents, refunded_cents + disputed_cents AS held, taken_back, status = 'paid' AS paid
      FROM credit_purchases WHERE id = ${req.purchaseId}::uuid FOR UPDATE`;
  const p = rows[0];
  if (!p?.paid) return 0; // nothing was granted
  const target = takeBackTarget(p.credits, p.amount_cents, p.held);
  const delta = target - p.taken_back;
  if (delta === 0) return 0;
  const move = { userId: p.user_id, purchaseId: req.purchaseId, key: req.key };
  if (!(delta > 0 ? await takeBack(tx, { ...move, credits: delta }) : await giveBack(tx, { ...move, credits: -delta }))) return 0;
  await tx.$executeRaw`UPDATE credit_purchases SET taken_back = ${target}, updated_at = now() WHERE id = ${req.purchaseId}::uuid`;
  return delta;
}

/** Takes back n credits: what the user has, and the rest as owed. */
async function takeBack(tx: Tx, req: { userId: string; purchaseId: string; key: string; credits: number }): Promise<boolean> {
  const balance = await lockBalance(tx, req.userId);
  const taken = Math.min(req.credits, balance.credits);
  const owed = req.credits - taken;
  const row = { userId: req.userId, purchaseId: req.purchaseId };
  if (!(await record(tx, { ...row, key: req.key, movement: 'takeback', credits: taken }))) return false;
  if (owed > 0) await record(tx, { ...row, key: `${req.key}:owed`, movement: 'owe', credits: owed });
  await tx.$executeRaw`
    UPDATE credit_balances SET credits = credits - ${taken}, owed = owed + ${owed}, updated_at = now() WHERE user_id = ${req.userId}::uuid`;
  return true;
}

/** Gives back n credits taken earlier: first by forgiving what is still owed, the rest as credits. */
async function giveBack(tx: Tx, req: { userId: string; purchaseId: string; key: string; credits: number }): Promise<boolean> {
  const balance = await lockBalance(tx, req.userId);
  const forgiven = Math.min(req.credits, balance.owed);
  const back = req.credits - forgiven;
  const row = { userId: req.userId, purchaseId: req.purchaseId };
  if (!(await record(tx, { ...row, key: req.key, movement: 'giveback', credits: back }))) return false;
  if (forgiven > 0) await record(tx, { ...row, key: `${req.key}:forgiven`, movement: 'forgive', credits: forgiven });
  await tx.$executeRaw`
    UPDATE credit_balances SET credits = credits + ${back}, owed = owed - ${forgiven}, updated_at = now() WHERE user_id = ${req.userId}::uuid`;
  return true;
}

/**
 * What accepting a job reserves: its maximum cost, counted into the account's active jobs
 * (refused at `maxActive`) and, with `apiKeyId`, into that key's month.
 */
export interface CreditReservation {
  userId: string;
  jobId: string;
  credits: number;
  maxActive: number;
  apiKeyId: string | null;
}

export type ReserveResult = { reserved: true } | { reserved: false; available: number };

/**
 * The reservation's part of the one statement that accepts a job (see reserveWith): `ctes`, the
 * statement's first common table expressions, ending in `reserved` (one row if the credits were
 * reserved, none if refused), and `guard`, a column the statement must select.
 */
export interface ReservingSql {
  ctes: Prisma.Sql;
  guard: Prisma.Sql;
}

/**
 * Reserves a job's maximum cost in ONE statement with the job's own row: `write` runs a
 * statement that opens with the reservation's `ctes`, inserts its row `FROM reserved` (so only
 * if the credits were reserved), selects the `guard`, and says whether its row was written. No
 * transaction is opened, so no pool connection waits on the API between round trips, and the
 * statement is atomic: any failure (a unique key of the row, such as an Idempotency-Key, or of
 * the ledger's `reserve:<job id>`, so a job never reserves twice) undoes all of it. The update
 * re-checks its condition on the newest row version, so the counters never go below zero under
 * any concurrency (and a CHECK constraint backs it). Never while credits are owed: 402
 * account_in_debt. The same update counts the job into the account's active jobs, refused at
 * `maxActive` (429 too_many_active_jobs), exactly under any concurrency for the same reason;
 * settling the reservation counts it out. Only a refusal costs a second query, to read what the
 * user has (so its figures may already be a moment newer than the refusal).
 *
 * With `apiKeyId`, the same statement also counts the credits into that key's month
 * (api_keys.month_spent_credits for the UTC month in spend_month), refused past the key's
 * monthly_credit_budget (402 key_budget_exceeded). That update, too, re-checks its condition on
 * the newest version of the key's row, so concurrent jobs of one key never overshoot its budget.
 * The two updates depend on each other: the balance moves only if the key's month did, and the
 * key's month moves only if the balance looked sufficient; should a concurrent statement take
 * the balance in between (the key counted, the balance refused), the guard divides by zero,
 * which undoes all of it, and the statement runs again.
 *
 * Lock order: the key's row, then the balance's, as settleCredits takes them, so a job
 * accepted while another of the same key settles waits for it instead of deadlocking.
 */
export async function reserveWith(db: Db, r: CreditReservation, write: (sql: ReservingSql) => Promise<boolean>): Promise<ReserveResult> {
  const sql = reservingSql(r);
  for (let attempt = 1; ; attempt++) {
    try {
      if (await write(sql)) {
        countLedgerMovement('credits', 'reserve', r.credits);
        return { reserved: true };
      }
      return await refusal(db, r);
    } catch (err) {
      if (!isDivisionByZero(err) || attempt >= RESERVE_ATTEMPTS) throw err;
    }
  }
}

/** Runs of the reserving statement when concurrent jobs of one key keep racing for the same balance. */
const RESERVE_ATTEMPTS = 5;

/** The UTC month a statement counts a key's spend in (created_at is stored to the millisecond: rounded alike). */
const SPEND_MONTH = Prisma.sql`(date_trunc('month', now()::timestamptz(3) AT TIME ZONE 'UTC'))::date`;

function reservingSql(r: CreditReservation): ReservingSql {
  const monthSpent = Prisma.sql`(CASE WHEN k.spend_month = ${SPEND_MONTH} THEN k.month_spent_credits ELSE 0 END)`;
  const ctes = Prisma.sql`
    key_month AS (
      UPDATE api_keys k
         SET month_spent_credits = ${monthSpent} + ${r.credits}::int, spend_month = ${SPEND_MONTH}
       WHERE k.id = ${r.apiKeyId}::uuid AND k.user_id = ${r.userId}::uuid
         AND (k.monthly_credit_budget IS NULL OR ${monthSpent} + ${r.credits}::int <= k.monthly_credit_budget)
         AND EXISTS (SELECT 1 FROM credit_balances b
                      WHERE b.user_id = ${r.userId}::uuid AND b.credits >= ${r.credits} AND b.owed = 0 AND b.active_jobs < ${r.maxActive})
         AND ${noImageDebt(r.userId)}
      RETURNING k.id
    ), reserved AS (
      UPDATE credit_balances
         SET credits = credits - ${r.credits}, reserved = reserved + ${r.credits}, active_jobs = active_jobs + 1, updated_at = now()
       WHERE user_id = ${r.userId}::uuid AND credits >= ${r.credits} AND owed = 0 AND active_jobs < ${r.maxActive}
         AND ${noImageDebt(r.userId)}
         AND (${r.apiKeyId}::uuid IS NULL OR EXISTS (SELECT 1 FROM key_month))
      RETURNING user_id
    ), ledger AS (
      INSERT INTO credit_ledger (id, user_id, key, movement, credits, job_id)
      SELECT ${randomUUID()}::uuid, user_id, ${`reserve:${r.jobId}`}, 'reserve'::credit_movement, ${r.credits}::int, ${r.jobId}::uuid FROM reserved
    )`;
  const guard = Prisma.sql`(1 / (1 + (SELECT count(*) FROM reserved) - (SELECT count(*) FROM key_month)))::int`;
  return { ctes, guard };
}

/** Why a reservation was refused: a 402 or 429 for debt, the active-jobs cap or the key's budget; else what the user has. */
async function refusal(db: Db, r: CreditReservation): Promise<ReserveResult> {
  const balance = await db.creditBalance.findUnique({ where: { userId: r.userId }, select: { credits: true, owed: true, activeJobs: true } });
  if (balance && balance.owed > 0) throw accountInDebtError('credits', balance.owed);
  const imagesOwed = await userImagesOwed(db, r.userId);
  if (imagesOwed > 0) throw accountInDebtError('images', imagesOwed);
  if (balance && balance.activeJobs >= r.maxActive) throw tooManyActiveJobs(balance.activeJobs, r.maxActive);
  if (r.apiKeyId) {
    const spend = await keyMonthSpend(db, r.apiKeyId);
    if (spend && spend.budget !== null && spend.spent + r.credits > spend.budget) throw keyBudgetExceeded(spend.budget, spend.spent, r.credits);
  }
  return { reserved: false, available: balance?.credits ?? 0 };
}

/** No model of the user owes images (a partial index finds one that does). */
const noImageDebt = (userId: string) => Prisma.sql`NOT EXISTS (SELECT 1 FROM model_versions v WHERE v.user_id = ${userId}::uuid AND v.images_owed > 0)`;

/** Images the user's models owe after refunds or disputes (0 if none). */
export async function userImagesOwed(db: DbOrTx, userId: string): Promise<number> {
  const sum = await db.modelVersion.aggregate({ where: { userId, imagesOwed: { gt: 0 } }, _sum: { imagesOwed: true } });
  return sum._sum.imagesOwed ?? 0;
}

/** Postgres' division_by_zero (SQLSTATE 22012), as a raw statement's error carries it. */
function isDivisionByZero(err: unknown): boolean {
  const e = err as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } } };
  return e.meta?.driverAdapterError?.cause?.originalCode === '22012';
}

/** A key's monthly budget (null: none) and its spend in the current UTC month, by the database's clock. */
export async function keyMonthSpend(db: DbOrTx, apiKeyId: string): Promise<{ budget: number | null; spent: number } | null> {
  const rows = await db.$queryRaw<{ budget: number | null; spent: number }[]>`
    SELECT k.monthly_credit_budget AS budget, ${Prisma.sql`(CASE WHEN k.spend_month = ${SPEND_MONTH} THEN k.month_spent_credits ELSE 0 END)`}::int AS spent
      FROM api_keys k WHERE k.id = ${apiKeyId}::uuid`;
  return rows[0] ?? null;
}

function keyBudgetExceeded(budget: number, spent: number, needed: number): AppError {
  return new AppError(
    402,
    ErrorCode.keyBudgetExceeded,
    `This API key may spend ${budget} credits a month and has spent ${spent} this month; this job needs up to ${needed}. Raise its budget (PATCH /api/v1/keys/{key_id}) or wait for next month`,
    { budget, spent_this_month: spent, needed },
  );
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
  // The key's month counted the whole reservation: what was released no longer counts (only
  // while the key still counts the month the job was accepted in). The key's row before the
  // balance's, the order the reserving statement locks them in (reserveWith): a job of the same
  // key accepted meanwhile waits for this transaction instead of deadlocking with it.
  if (released > 0) {
    await tx.$executeRaw`
      UPDATE api_keys k SET month_spent_credits = k.month_spent_credits - ${released}
        FROM jobs j
       WHERE j.id = ${req.jobId}::uuid AND k.id = j.api_key_id
         AND k.spend_month = (date_trunc('month', j.created_at AT TIME ZONE 'UTC'))::date`;
  }
  await tx.$executeRaw`
    UPDATE credit_balances
       SET reserved = reserved - ${reserved.credits}, credits = credits + ${released}, active_jobs = active_jobs - 1, updated_at = now()
     WHERE user_id = ${userId}::uuid`;
  // Credits released while something is owed pay it first (a refund took what it could meanwhile).
  if (released > 0) await payDebt(tx, { userId, key: `debt-paid:release:${req.jobId}`, jobId: req.jobId });
  return used;
}

/** Seconds a client over its active-jobs cap is asked to wait: about what a short job takes. */
const ACTIVE_JOBS_RETRY_AFTER_SECONDS = 5;

function tooManyActiveJobs(active: number, cap: number): AppError {
  return new AppError(
    429,
    ErrorCode.tooManyActiveJobs,
    `This account has ${active} jobs queued or running, the most it may have at once; wait for some to finish`,
    { cap, active },
    { 'Retry-After': String(ACTIVE_JOBS_RETRY_AFTER_SECONDS) },
  );
}

/** The caller's counters (zero before the first purchase). */
export async function getBalance(db: DbOrTx, userId: string): Promise<Balance> {
  const row = await db.creditBalance.findUnique({ where: { userId }, select: { credits: true, reserved: true } });
  return row ?? { credits: 0, reserved: 0 };
}

/** What the user owes after a refund or dispute took back credits already spent. */
export async function getOwed(db: DbOrTx, userId: string): Promise<number> {
  return (await db.creditBalance.findUnique({ where: { userId }, select: { owed: true } }))?.owed ?? 0;
}

/** Sums the ledger, to prove the counters equal it. */
export async function ledgerBalance(db: DbOrTx, userId: string): Promise<Balance> {
  const sum = await movementSums(db, userId);
  return {
    credits: sum('topup') - sum('reserve') + sum('release') - sum('takeback') + sum('giveback') - sum('debt_paid'),
    reserved: sum('reserve') - sum('commit') - sum('release'),
  };
}

/** Sums the ledger's debt movements, to prove the owed counter equals them. */
export async function ledgerOwed(db: DbOrTx, userId: string): Promise<number> {
  const sum = await movementSums(db, userId);
  return sum('owe') - sum('forgive') - sum('debt_paid');
}

async function movementSums(db: DbOrTx, userId: string): Promise<(m: Movement) => number> {
  const rows = await db.creditLedger.groupBy({ by: ['movement'], where: { userId }, _sum: { credits: true } });
  return (m) => rows.find((r) => r.movement === m)?._sum.credits ?? 0;
}
