import { randomUUID } from 'node:crypto';
import type { DbOrTx, Tx } from '../db/transaction';
import { countLedgerMovement } from '../metrics/business';
import { accountInDebtError, takeBackTarget } from '../payments/take-back';

/**
 * A model's image quota: counters on model_versions plus one ledger row per movement.
 * Every function runs inside the caller's transaction and is idempotent through the
 * ledger's unique `key`: a retried activity or a redelivered webhook finds its row and
 * changes nothing. A CHECK constraint keeps used + reserved <= total whatever happens.
 *
 *   grant    payment paid (base plan on training success, add-on on payment)  total += n
 *   reserve  prompt starts                                                    reserved += n
 *   commit   prompt stored k images                                           reserved -= k, used += k
 *   release  the rest of a reservation (failure, cancel, fewer images)        reserved -= n - k
 *
 * When Stripe gives a plan's money back (a refund, a dispute), its images go back too:
 *
 *   takeback   what is free of the n images to take back: k      total -= k
 *   owe        the rest, already used or reserved                 owed += n - k
 *   giveback   a dispute was won: its n images come back, the     total += n - f
 *   forgive    part still owed (f) is simply no longer owed       owed -= f
 *   debt_paid  a later grant, or images a prompt's reservation    total -= d, owed -= d
 *              releases later, pay what is owed first: d
 *
 * While any of the user's models owes images, or the user owes credits (credit_ledger), no
 * prompt can reserve any (402 account_in_debt).
 */
type Movement = 'grant' | 'reserve' | 'commit' | 'release' | 'takeback' | 'owe' | 'giveback' | 'forgive' | 'debt_paid';

async function record(
  tx: Tx,
  row: { key: string; movement: Movement; versionId: string; images: number; paymentId?: string; promptId?: string },
): Promise<boolean> {
  const inserted = await tx.$queryRaw<{ id: string }[]>`
    INSERT INTO quota_ledger (id, version_id, key, movement, images, payment_id, prompt_id)
    VALUES (${randomUUID()}::uuid, ${row.versionId}::uuid, ${row.key}, ${row.movement}::quota_movement, ${row.images},
            ${row.paymentId ?? null}::uuid, ${row.promptId ?? null}::uuid)
    ON CONFLICT (key) DO NOTHING
    RETURNING id`;
  if (inserted.length === 1) countLedgerMovement('quota', row.movement, row.images);
  return inserted.length === 1;
}

/**
 * Adds a paid plan's images to a model. A refund or dispute that came before the grant takes
 * its share back at once, and what the model owes is paid from the rest. Returns false if
 * this payment was already granted.
 */
export async function grantImages(tx: Tx, req: { versionId: string; paymentId: string; images: number }): Promise<boolean> {
  if (!(await record(tx, { key: `grant:${req.paymentId}`, movement: 'grant', ...req }))) return false;
  await tx.$executeRaw`UPDATE model_versions SET images_total = images_total + ${req.images}, updated_at = now() WHERE id = ${req.versionId}::uuid`;
  await syncPaymentTakeBack(tx, { paymentId: req.paymentId, key: `grant-takeback:${req.paymentId}` });
  await payImageDebt(tx, { versionId: req.versionId, key: `debt-paid:${req.paymentId}`, paymentId: req.paymentId });
  return true;
}

/** A model's counters, locked until the transaction ends. */
async function lockVersion(tx: Tx, versionId: string): Promise<{ free: number; owed: number }> {
  const rows = await tx.$queryRaw<{ free: number; owed: number }[]>`
    SELECT images_total - images_used - images_reserved AS free, images_owed AS owed FROM model_versions WHERE id = ${versionId}::uuid FOR UPDATE`;
  return rows[0] ?? { free: 0, owed: 0 };
}

/**
 * Pays what a model owes from its free images, as far as they go: after a payment granted some,
 * or a prompt's reservation released some (images that were reserved when a refund took the rest).
 */
async function payImageDebt(tx: Tx, req: { versionId: string; key: string; paymentId?: string; promptId?: string }): Promise<void> {
  const v = await lockVersion(tx, req.versionId);
  const paid = Math.min(v.owed, v.free);
  if (paid <= 0) return;
  if (!(await record(tx, { key: req.key, movement: 'debt_paid', versionId: req.versionId, paymentId: req.paymentId, promptId: req.promptId, images: paid }))) return;
  await tx.$executeRaw`
    UPDATE model_versions SET images_total = images_total - ${paid}, images_owed = images_owed - ${paid}, updated_at = now() WHERE id = ${req.versionId}::uuid`;
}

/**
 * Brings what a plan payment has taken back in line with what its refunds and disputes now
 * hold (refunded_cents + disputed_cents, src/payments/take-back.ts), on the model its images
 * were granted to, in one step keyed by the Stripe event's effect: more held takes images
 * back, less held (a dispute won) gives them back. Before the grant there is nothing to move
 * (the grant syncs). The payment row is locked, so concurrent events add up exactly. Returns
 * the images moved: positive taken back, negative given back, 0 if nothing changed.
 */
export async function syncPaymentTakeBack(tx: Tx, req: { paymentId: string; key: string }): Promise<number> {
  const rows = await tx.$queryRaw<{ amount_cents: number | null; held: number; taken_back: number; version_id: string | null; granted: number | null }[]>`
    SELECT p.amount_cents, p.refunded_cents + p.disputed_cents AS held, p.taken_back, g.version_id, g.images AS granted
      FROM payments p LEFT JOIN quota_ledger g ON g.key = 'grant:' || p.id::text
     WHERE p.id = ${req.paymentId}::uuid
       FOR UPDATE OF p`;
  const p = rows[0];
  if (!p?.version_id || !p.granted) return 0;
  const target = takeBackTarget(p.granted, p.amount_cents, p.held);
  const delta = target - p.taken_back;
  if (delta === 0) return 0;
  const move = { versionId: p.version_id, paymentId: req.paymentId, key: req.key };
  if (!(delta > 0 ? await takeBackImages(tx, { ...move, images: delta }) : await giveBackImages(tx, { ...move, images: -delta }))) return 0;
  await tx.$executeRaw`UPDATE payments SET taken_back = ${target}, updated_at = now() WHERE id = ${req.paymentId}::uuid`;
  return delta;
}

/** Takes back n images: the model's free ones, and the rest as owed. */
async function takeBackImages(tx: Tx, req: { versionId: string; paymentId: string; key: string; images: number }): Promise<boolean> {
  const v = await lockVersion(tx, req.versionId);
  const taken = Math.min(req.images, Math.max(v.free, 0));
  const owed = req.images - taken;
  const row = { versionId: req.versionId, paymentId: req.paymentId };
  if (!(await record(tx, { ...row, key: req.key, movement: 'takeback', images: taken }))) return false;
  if (owed > 0) await record(tx, { ...row, key: `${req.key}:owed`, movement: 'owe', images: owed });
  await tx.$executeRaw`
    UPDATE model_versions SET images_total = images_total - ${taken}, images_owed = images_owed + ${owed}, updated_at = now() WHERE id = ${req.versionId}::uuid`;
  return true;
}

/** Gives back n images taken earlier: first by forgiving what is still owed, the rest to the total. */
async function giveBackImages(tx: Tx, req: { versionId: string; paymentId: string; key: string; images: number }): Promise<boolean> {
  const v = await lockVersion(tx, req.versionId);
  const forgiven = Math.min(req.images, v.owed);
  const back = req.images - forgiven;
  const row = { versionId: req.versionId, paymentId: req.paymentId };
  if (!(await record(tx, { ...row, key: req.key, movement: 'giveback', images: back }))) return false;
  if (forgiven > 0) await record(tx, { ...row, key: `${req.key}:forgiven`, movement: 'forgive', images: forgiven });
  await tx.$executeRaw`
    UPDATE model_versions SET images_total = images_total + ${back}, images_owed = images_owed - ${forgiven}, updated_at = now() WHERE id = ${req.versionId}::uuid`;
  return true;
}

/**
 * 402 account_in_debt while the user owes anything, on any ledger: this model's images, another
 * model's, or credits. A new prompt waits until they are paid.
 */
export async function assertNoDebt(db: DbOrTx, version: { userId: string; imagesOwed: number }): Promise<void> {
  if (version.imagesOwed > 0) throw accountInDebtError('images', version.imagesOwed);
  const debt = await userDebt(db, version.userId);
  if (debt) throw accountInDebtError(debt.unit, debt.owed);
}

/** What the user owes, credits first, or null. */
async function userDebt(db: DbOrTx, userId: string): Promise<{ unit: 'credits' | 'images'; owed: number } | null> {
  const rows = await db.$queryRaw<{ credits: number; images: number }[]>`
    SELECT COALESCE((SELECT owed FROM credit_balances WHERE user_id = ${userId}::uuid), 0)::int AS credits,
           COALESCE((SELECT sum(images_owed) FROM model_versions WHERE user_id = ${userId}::uuid AND images_owed > 0), 0)::int AS images`;
  const { credits, images } = rows[0] ?? { credits: 0, images: 0 };
  if (credits > 0) return { unit: 'credits', owed: credits };
  return images > 0 ? { unit: 'images', owed: images } : null;
}

export type ReserveResult = 'reserved' | 'already_reserved' | 'insufficient' | { inDebt: { unit: 'credits' | 'images'; owed: number } };

/**
 * Reserves images for a prompt in one conditional update: never below zero, under any
 * concurrency, never while the user owes images (on any model) or credits.
 */
export async function reserveImages(tx: Tx, req: { versionId: string; promptId: string; images: number }): Promise<ReserveResult> {
  const updated = await tx.$executeRaw`
    UPDATE model_versions
       SET images_reserved = images_reserved + ${req.images}, updated_at = now()
     WHERE id = ${req.versionId}::uuid
       AND images_total - images_used - images_reserved >= ${req.images}
       AND NOT EXISTS (SELECT 1 FROM model_versions o WHERE o.user_id = model_versions.user_id AND o.images_owed > 0)
       AND NOT EXISTS (SELECT 1 FROM credit_balances b WHERE b.user_id = model_versions.user_id AND b.owed > 0)
       AND NOT EXISTS (SELECT 1 FROM quota_ledger WHERE key = ${`reserve:${req.promptId}`})`;
  if (updated === 0) {
    const already = await tx.quotaLedger.findUnique({ where: { key: `reserve:${req.promptId}` }, select: { id: true } });
    if (already) return 'already_reserved';
    const owner = await tx.modelVersion.findUnique({ where: { id: req.versionId }, select: { userId: true } });
    const debt = owner ? await userDebt(tx, owner.userId) : null;
    return debt ? { inDebt: debt } : 'insufficient';
  }
  await record(tx, { key: `reserve:${req.promptId}`, movement: 'reserve', ...req });
  return 'reserved';
}

/**
 * Settles a prompt's reservation: commits `used` images and releases the rest. With
 * used = 0 it is a plain release (failure or cancel). Idempotent: only the first call moves.
 */
export async function settleReservation(tx: Tx, req: { versionId: string; promptId: string; used: number }): Promise<void> {
  const reserved = await tx.quotaLedger.findUnique({ where: { key: `reserve:${req.promptId}` }, select: { images: true } });
  if (!reserved) return;
  const used = Math.min(req.used, reserved.images);
  const released = reserved.images - used;
  // The settle marker is the release row (written even for 0), so a second settle does nothing.
  if (!(await record(tx, { key: `release:${req.promptId}`, movement: 'release', versionId: req.versionId, promptId: req.promptId, images: released }))) return;
  if (used > 0) await record(tx, { key: `commit:${req.promptId}`, movement: 'commit', versionId: req.versionId, promptId: req.promptId, images: used });
  await tx.$executeRaw`
    UPDATE model_versions
       SET images_reserved = images_reserved - ${reserved.images}, images_used = images_used + ${used}, updated_at = now()
     WHERE id = ${req.versionId}::uuid`;
  // Images released while the model owes some pay it first (a refund took what it could meanwhile).
  if (released > 0) await payImageDebt(tx, { versionId: req.versionId, key: `debt-paid:release:${req.promptId}`, promptId: req.promptId });
}

/** Sums the ledger, to prove the counters equal it. */
export async function ledgerTotals(tx: Tx, versionId: string): Promise<{ total: number; used: number; reserved: number }> {
  const sum = await movementSums(tx, versionId);
  return {
    total: sum('grant') - sum('takeback') + sum('giveback') - sum('debt_paid'),
    used: sum('commit'),
    reserved: sum('reserve') - sum('commit') - sum('release'),
  };
}

/** Sums the ledger's debt movements, to prove the owed counter equals them. */
export async function ledgerImagesOwed(tx: Tx, versionId: string): Promise<number> {
  const sum = await movementSums(tx, versionId);
  return sum('owe') - sum('forgive') - sum('debt_paid');
}

async function movementSums(tx: Tx, versionId: string): Promise<(m: Movement) => number> {
  const rows = await tx.quotaLedger.groupBy({ by: ['movement'], where: { versionId }, _sum: { images: true } });
  return (m) => rows.find((r) => r.movement === m)?._sum.images ?? 0;
}
