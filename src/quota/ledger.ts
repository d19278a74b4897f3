import { randomUUID } from 'node:crypto';
import type { Tx } from '../db/transaction';
import { countLedgerMovement } from '../metrics/business';

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
 */

async function record(
  tx: Tx,
  row: { key: string; movement: 'grant' | 'reserve' | 'commit' | 'release'; versionId: string; images: number; paymentId?: string; promptId?: string },
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

/** Adds a paid plan's images to a model. Returns false if this payment was already granted. */
export async function grantImages(tx: Tx, req: { versionId: string; paymentId: string; images: number }): Promise<boolean> {
  if (!(await record(tx, { key: `grant:${req.paymentId}`, movement: 'grant', ...req }))) return false;
  await tx.$executeRaw`UPDATE model_versions SET images_total = images_total + ${req.images}, updated_at = now() WHERE id = ${req.versionId}::uuid`;
  return true;
}

export type ReserveResult = 'reserved' | 'already_reserved' | 'insufficient';

/** Reserves images for a prompt in one conditional update: never below zero, under any concurrency. */
export async function reserveImages(tx: Tx, req: { versionId: string; promptId: string; images: number }): Promise<ReserveResult> {
  const updated = await tx.$executeRaw`
    UPDATE model_versions
       SET images_reserved = images_reserved + ${req.images}, updated_at = now()
     WHERE id = ${req.versionId}::uuid
       AND images_total - images_used - images_reserved >= ${req.images}
       AND NOT EXISTS (SELECT 1 FROM quota_ledger WHERE key = ${`reserve:${req.promptId}`})`;
  if (updated === 0) {
    const already = await tx.quotaLedger.findUnique({ where: { key: `reserve:${req.promptId}` }, select: { id: true } });
    return already ? 'already_reserved' : 'insufficient';
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
}

/** Sums the ledger, to prove the counters equal it. */
export async function ledgerTotals(tx: Tx, versionId: string): Promise<{ total: number; used: number; reserved: number }> {
  const rows = await tx.quotaLedger.groupBy({ by: ['movement'], where: { versionId }, _sum: { images: true } });
  const sum = (m: string) => rows.find((r) => r.movement === m)?._sum.images ?? 0;
  return { total: sum('grant'), used: sum('commit'), reserved: sum('reserve') - sum('commit') - sum('release') };
}
