import type { Tx } from '../db/transaction';
import { syncPurchaseTakeBack } from '../credits/ledger';
import { syncPaymentTakeBack } from '../quota/ledger';
import type { Stripe } from '../stripe/client';

/**
 * Money that goes back through Stripe takes back what it bought, once, through the same
 * ledgers that granted it: a credit pack's credits (credit_ledger), a plan's images
 * (quota_ledger). The payment or purchase row holds what Stripe refunded and what a dispute
 * holds (cents); the ledger brings what was taken back in line with that share
 * (src/payments/take-back.ts), with one ledger key per event effect:
 *
 *   charge.refunded          refund:<charge>:<amount refunded so far>   (refunds are cumulative)
 *   charge.dispute.created   dispute:<dispute>                          the disputed amount is held
 *   charge.dispute.closed    dispute-won:<dispute> | dispute-lost:<dispute>
 *                            won (or an inquiry closed): the hold ends and what it took comes back;
 *                            lost: the hold stays (and is taken now if the created event never came)
 *
 * What was already spent becomes owed, and blocks new spending until a later purchase pays it.
 * The charge finds its row by payment_intent, stored when the checkout was paid.
 */

export const CHARGE_EVENTS = ['charge.refunded', 'charge.dispute.created', 'charge.dispute.closed'] as const;
export type ChargeEventType = (typeof CHARGE_EVENTS)[number];

export interface ChargeResult {
  /** Our payment or credit purchase the charge paid; null if none matches (the event is ignored). */
  paymentId: string | null;
  kind: 'payment' | 'credit_purchase' | null;
  /** Units (images or credits) moved by this event: positive taken back, negative given back. */
  moved: number;
}

type Owner = { kind: 'payment' | 'credit_purchase'; id: string };

/** Applies a charge.refunded or charge.dispute.* event inside the transaction recording it. */
export async function applyChargeEvent(tx: Tx, event: Stripe.Event): Promise<ChargeResult> {
  if (event.type === 'charge.refunded') {
    const charge = event.data.object as Stripe.Charge;
    const owner = await findOwner(tx, intentId(charge.payment_intent));
    if (!owner) return unmatched;
    // Refunds only add up: an older, smaller snapshot delivered late lowers nothing.
    await update(tx, owner, { refundedCents: { lt: charge.amount_refunded } }, { refundedCents: charge.amount_refunded });
    // The charge's own amount fills in a missing paid amount, the denominator of the share.
    await update(tx, owner, { amountCents: null }, { amountCents: charge.amount });
    return sync(tx, owner, `refund:${charge.id}:${charge.amount_refunded}`);
  }
  const dispute = event.data.object as Stripe.Dispute;
  const owner = await findOwner(tx, intentId(dispute.payment_intent));
  if (!owner) return unmatched;
  const lost = dispute.status === 'lost';
  if (event.type === 'charge.dispute.created' || lost) {
    await update(tx, owner, {}, { disputedCents: dispute.amount });
    return sync(tx, owner, `${event.type === 'charge.dispute.created' ? 'dispute' : 'dispute-lost'}:${dispute.id}`);
  }
  await update(tx, owner, {}, { disputedCents: 0 });
  return sync(tx, owner, `dispute-won:${dispute.id}`);
}

const unmatched: ChargeResult = { paymentId: null, kind: null, moved: 0 };

const intentId = (intent: string | { id: string } | null): string | null => (typeof intent === 'string' ? intent : (intent?.id ?? null));

async function findOwner(tx: Tx, paymentIntentId: string | null): Promise<Owner | null> {
  if (!paymentIntentId) return null;
  const where = { paymentIntentId, status: 'paid' as const };
  const select = { id: true };
  const purchase = await tx.creditPurchase.findFirst({ where, select });
  if (purchase) return { kind: 'credit_purchase', ...purchase };
  const payment = await tx.payment.findFirst({ where, select });
  return payment ? { kind: 'payment', ...payment } : null;
}

/** One conditional update of the payment or purchase row (both have the same money columns). */
async function update(
  tx: Tx,
  owner: Owner,
  where: { refundedCents?: { lt: number }; amountCents?: null },
  data: { refundedCents?: number; disputedCents?: number; amountCents?: number },
): Promise<void> {
  const args = { where: { id: owner.id, ...where }, data };
  await (owner.kind === 'payment' ? tx.payment.updateMany(args) : tx.creditPurchase.updateMany(args));
}

async function sync(tx: Tx, owner: Owner, key: string): Promise<ChargeResult> {
  const moved =
    owner.kind === 'payment' ? await syncPaymentTakeBack(tx, { paymentId: owner.id, key }) : await syncPurchaseTakeBack(tx, { purchaseId: owner.id, key });
  return { paymentId: owner.id, kind: owner.kind, moved };
}
