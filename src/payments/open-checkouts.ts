import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Tx } from '../db/transaction';
import type { CreditPack, CreditPurchase, Payment, Plan } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';

/**
 * A user's open checkouts: plan payments and credit-pack purchases that are pending and whose
 * Stripe Checkout Session can still be paid. We never set `expires_at`, so a session expires
 * after Stripe's default 24 hours. Asking again for the same plan or pack returns the open
 * checkout instead of creating another; beyond MAX_OPEN_CHECKOUTS (both kinds together) a new
 * one is 409 too_many_open_checkouts. The check and the new pending row happen in one
 * transaction under a per-user advisory lock, so parallel requests cannot pass it together.
 */

const SESSION_LIFETIME_MS = 24 * 60 * 60_000;
/** An open checkout is handed out again only while it has this long left to be paid. */
const REUSE_MARGIN_MS = 60 * 60_000;

type PaymentWithPlan = Payment & { plan: Plan };
type PurchaseWithPack = CreditPurchase & { pack: CreditPack };

/**
 * The caller's open checkout for the same plan, model and promotion code; or null after recording
 * the new pending payment `row` (the caller then creates its session).
 */
export function claimPaymentCheckout(
  deps: { db: Db; config: Config },
  row: { id: string; userId: string; planId: string; versionId: string | null; promotionCode: string | null },
): Promise<PaymentWithPlan | null> {
  return claimCheckout(deps, row.userId, {
    findReusable: (tx, reusableSince) =>
      tx.payment.findFirst({
        where: { ...open(row.userId, reusableSince), planId: row.planId, versionId: row.versionId, promotionCode: row.promotionCode },
        include: { plan: true },
        orderBy: { createdAt: 'desc' },
      }),
    create: (tx) => tx.payment.create({ data: row }),
  });
}

/** The caller's open checkout for the same pack; or null after recording the new pending purchase `row`. */
export function claimCreditCheckout(
  deps: { db: Db; config: Config },
  row: { id: string; userId: string; packId: string; credits: number },
): Promise<PurchaseWithPack | null> {
  return claimCheckout(deps, row.userId, {
    findReusable: (tx, reusableSince) =>
      tx.creditPurchase.findFirst({ where: { ...open(row.userId, reusableSince), packId: row.packId }, include: { pack: true }, orderBy: { createdAt: 'desc' } }),
    create: (tx) => tx.creditPurchase.create({ data: row }),
  });
}

/** Pending with a checkout URL, created after `since`. */
const open = (userId: string, since: Date) => ({ userId, status: 'pending' as const, checkoutUrl: { not: null }, createdAt: { gt: since } });

async function claimCheckout<T>(
  deps: { db: Db; config: Config },
  userId: string,
  steps: { findReusable: (tx: Tx, reusableSince: Date) => Promise<T | null>; create: (tx: Tx) => Promise<unknown> },
): Promise<T | null> {
  const max = deps.config.checkouts.maxOpen;
  return deps.db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`open-checkouts:${userId}`}, 0))`;
    const now = Date.now();
    const reusable = await steps.findReusable(tx, new Date(now - SESSION_LIFETIME_MS + REUSE_MARGIN_MS));
    if (reusable) return reusable;
    const count = await countOpen(tx, userId, now);
    if (count >= max) throw tooManyOpenCheckouts(count, max);
    await steps.create(tx);
    return null;
  });
}

/**
 * The cap, checked before anything is asked of Stripe (the promotion-code lookup): a caller at
 * MAX_OPEN_CHECKOUTS with no open checkout of this plan and model to be handed back is refused at
 * once. claimPaymentCheckout checks again under the lock; that check is the one that holds.
 */
export async function refuseBeyondCheckoutCap(deps: { db: Db; config: Config }, p: { userId: string; planId: string; versionId: string | null }): Promise<void> {
  const max = deps.config.checkouts.maxOpen;
  const now = Date.now();
  const count = await countOpen(deps.db, p.userId, now);
  if (count < max) return;
  const reusable = await deps.db.payment.count({
    where: { ...open(p.userId, new Date(now - SESSION_LIFETIME_MS + REUSE_MARGIN_MS)), planId: p.planId, versionId: p.versionId },
  });
  if (reusable === 0) throw tooManyOpenCheckouts(count, max);
}

/** Pending checkouts of both kinds; rows still waiting for their session (no URL yet) count too: they are checkouts being opened. */
async function countOpen(db: Db | Tx, userId: string, now: number): Promise<number> {
  const pending = { userId, status: 'pending' as const, createdAt: { gt: new Date(now - SESSION_LIFETIME_MS) } };
  return (await db.payment.count({ where: pending })) + (await db.creditPurchase.count({ where: pending }));
}

function tooManyOpenCheckouts(count: number, max: number): AppError {
  return AppError.conflict(
    ErrorCode.tooManyOpenCheckouts,
    `You already have ${count} open checkouts (at most ${max}): pay or let one expire first, or ask again for the same plan or pack to get its checkout back`,
    { open_checkouts: count, max_open_checkouts: max },
  );
}
