import type { Tx } from '../db/transaction';
import type { CreditPurchase, PaymentStatus } from '../generated/prisma/client';
import { sessionPaymentIntentId, type ApplyResult, type CheckoutOutcome } from '../payments/session-outcome';
import type { Stripe } from '../stripe/client';
import { applyKeptChargeEvents } from '../payments/refunds';
import { topUp } from './ledger';

/** `metadata.kind` of our credit-pack Checkout Sessions; sessions without it are plan payments. */
export const CREDIT_PACK_KIND = 'credit_pack';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isCreditPackSession(session: Stripe.Checkout.Session): boolean {
  return session.metadata?.kind === CREDIT_PACK_KIND;
}

/**
 * Applies a credit-pack Checkout Session to its purchase, inside the caller's transaction
 * (the one recording the webhook event). Same state machine as a payment: pending → paid |
 * failed | expired, failed | expired → paid, paid is final; becoming paid adds the pack's
 * credits, once (ledger key topup:<purchase id>); refunds and disputes take them back
 * (src/payments/refunds.ts). The purchase is found by
 * `client_reference_id`, then `metadata.purchase_id`, then the session id.
 */
export async function applyCreditPackSession(tx: Tx, session: Stripe.Checkout.Session, outcome: CheckoutOutcome, paidAt?: Date): Promise<ApplyResult> {
  const purchase = await findPurchase(tx, session);
  if (!purchase) return { paymentId: null, outcome, changed: false, status: null, imagesGranted: 0 };
  const result = (changed: boolean, status: PaymentStatus): ApplyResult => ({ paymentId: purchase.id, outcome, changed, status, imagesGranted: 0 });

  if (outcome === 'paid') {
    const moved = await tx.creditPurchase.updateMany({
      where: { id: purchase.id, status: { not: 'paid' } },
      data: {
        status: 'paid',
        paidAt: paidAt ?? new Date(),
        amountCents: session.amount_total ?? null,
        currency: session.currency?.toLowerCase() ?? null,
        paymentIntentId: sessionPaymentIntentId(session),
        ...(purchase.checkoutSessionId === null && session.id ? { checkoutSessionId: session.id } : {}),
      },
    });
    if (moved.count === 1) {
      await topUp(tx, { userId: purchase.userId, purchaseId: purchase.id, credits: purchase.credits });
      // Refunds and disputes that came before the purchase was paid take their share now.
      await applyKeptChargeEvents(tx, { kind: 'credit_purchase', id: purchase.id }, sessionPaymentIntentId(session));
    }
    return result(moved.count === 1, 'paid');
  }
  if (outcome === 'pending') return result(false, purchase.status);
  const moved = await tx.creditPurchase.updateMany({ where: { id: purchase.id, status: 'pending' }, data: { status: outcome } });
  if (moved.count === 1) return result(true, outcome);
  const now = await tx.creditPurchase.findUniqueOrThrow({ where: { id: purchase.id }, select: { status: true } });
  return result(false, now.status);
}

async function findPurchase(tx: Tx, session: Stripe.Checkout.Session): Promise<CreditPurchase | null> {
  const ids = [session.client_reference_id, session.metadata?.purchase_id].filter((v): v is string => typeof v === 'string' && UUID.test(v));
  for (const id of new Set(ids)) {
    const purchase = await tx.creditPurchase.findUnique({ where: { id } });
    if (purchase) return purchase;
  }
  if (typeof session.id === 'string' && session.id) return tx.creditPurchase.findUnique({ where: { checkoutSessionId: session.id } });
  return null;
}
