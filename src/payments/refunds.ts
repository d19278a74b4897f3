import type { Tx } from '../db/transaction';
import { Prisma } from '../generated/prisma/client';
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
 * What was already spent becomes owed, and blocks new spending on every ledger until a later
 * purchase (or a reservation released later) pays it. The charge finds its row by
 * payment_intent, stored when the checkout was paid; an event that comes first is kept and
 * applied when the payment becomes paid.
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

export type Owner = { kind: 'payment' | 'credit_purchase'; id: string };

/**
 * Applies a charge.refunded or charge.dispute.* event inside the transaction recording it. The
 * event is kept (stripe_charge_events) whether or not its payment is found yet, and what the
 * payment's refunds and disputes hold is derived from every event kept for its PaymentIntent:
 * refunds only add up (the largest amount_refunded of each charge), and a dispute that was
 * closed stays closed whatever arrives after (a late `created` cannot hold it again). An event
 * whose payment is not paid yet waits: applyKeptChargeEvents applies it when the payment is.
 */
export async function applyChargeEvent(tx: Tx, event: Stripe.Event): Promise<ChargeResult> {
  const kept = keptRow(event);
  if (!kept) return unmatched;
  await tx.stripeChargeEvent.createMany({ data: [kept], skipDuplicates: true });
  const owner = await findOwner(tx, kept.paymentIntentId);
  if (!owner) return unmatched;
  return applyHeld(tx, owner, kept.paymentIntentId, eventKey(event));
}

/**
 * Applies the refund and dispute events kept for a PaymentIntent to the payment or purchase that
 * just became paid with it, in the transaction marking it paid (after its credits or images were
 * granted, so what they hold is taken back at once). Idempotent: a payment becomes paid once.
 */
export async function applyKeptChargeEvents(tx: Tx, owner: Owner, paymentIntentId: string | null): Promise<number> {
  if (!paymentIntentId) return 0;
  const kept = await tx.stripeChargeEvent.count({ where: { paymentIntentId } });
  if (kept === 0) return 0;
  return (await applyHeld(tx, owner, paymentIntentId, `kept-charges:${owner.id}`)).moved;
}

/** The ledger key of an event's effect (see the table above). */
function eventKey(event: Stripe.Event): string {
  if (event.type === 'charge.refunded') {
    const charge = event.data.object as Stripe.Charge;
    return `refund:${charge.id}:${charge.amount_refunded}`;
  }
  const dispute = event.data.object as Stripe.Dispute;
  if (event.type === 'charge.dispute.created') return `dispute:${dispute.id}`;
  return `${dispute.status === 'lost' ? 'dispute-lost' : 'dispute-won'}:${dispute.id}`;
}

type KeptRow = {
  eventId: string;
  paymentIntentId: string;
  kind: 'refund' | 'dispute';
  objectId: string;
  amountCents: number;
  amountRefundedCents: number | null;
  disputeStatus: string | null;
};

function keptRow(event: Stripe.Event): KeptRow | null {
  if (event.type === 'charge.refunded') {
    const charge = event.data.object as Stripe.Charge;
    const paymentIntentId = intentId(charge.payment_intent);
    if (!paymentIntentId) return null;
    return { eventId: event.id, paymentIntentId, kind: 'refund', objectId: charge.id, amountCents: charge.amount, amountRefundedCents: charge.amount_refunded, disputeStatus: null };
  }
  const dispute = event.data.object as Stripe.Dispute;
  const paymentIntentId = intentId(dispute.payment_intent);
  if (!paymentIntentId) return null;
  // A closed event's status is final; a lost dispute's status can also come on other events.
  const closed = event.type === 'charge.dispute.closed' || dispute.status === 'lost';
  return {
    eventId: event.id,
    paymentIntentId,
    kind: 'dispute',
    objectId: dispute.id,
    amountCents: dispute.amount,
    amountRefundedCents: null,
    disputeStatus: closed ? (dispute.status === 'lost' ? 'lost' : dispute.status || 'won') : null,
  };
}

const unmatched: ChargeResult = { paymentId: null, kind: null, moved: 0 };

const intentId = (intent: string | { id: string } | null): string | null => (typeof intent === 'string' ? intent : (intent?.id ?? null));

async function findOwner(tx: Tx, paymentIntentId: string): Promise<Owner | null> {
  const where = { paymentIntentId, status: 'paid' as const };
  const select = { id: true };
  const purchase = await tx.creditPurchase.findFirst({ where, select });
  if (purchase) return { kind: 'credit_purchase', ...purchase };
  const payment = await tx.payment.findFirst({ where, select });
  return payment ? { kind: 'payment', ...payment } : null;
}

/**
 * Sets the owner's refunded and disputed cents from every event kept for its PaymentIntent,
 * then brings its ledger in line. Refunded cents never go down. Disputed cents: each dispute's
 * amount while open or lost, nothing once won; an owner with no dispute event kept keeps what it
 * had (rows from before events were kept).
 */
async function applyHeld(tx: Tx, owner: Owner, paymentIntentId: string, key: string): Promise<ChargeResult> {
  const rows = await tx.$queryRaw<{ refunded: number | null; charge_amount: number | null; disputed: number | null; disputes: number }[]>`
    WITH refunds AS (
      SELECT object_id, max(amount_refunded_cents) AS refunded, max(amount_cents) AS amount
        FROM stripe_charge_events WHERE payment_intent_id = ${paymentIntentId} AND kind = 'refund' GROUP BY object_id
    ), disputes AS (
      SELECT object_id,
             CASE WHEN bool_or(dispute_status IS NOT NULL)
                  THEN COALESCE(max(amount_cents) FILTER (WHERE dispute_status = 'lost'), 0)
                  ELSE max(amount_cents) END AS held
        FROM stripe_charge_events WHERE payment_intent_id = ${paymentIntentId} AND kind = 'dispute' GROUP BY object_id
    )
    SELECT (SELECT sum(refunded) FROM refunds)::int AS refunded, (SELECT max(amount) FROM refunds)::int AS charge_amount,
           (SELECT sum(held) FROM disputes)::int AS disputed, (SELECT count(*) FROM disputes)::int AS disputes`;
  const held = rows[0]!;
  const table = Prisma.raw(owner.kind === 'payment' ? 'payments' : 'credit_purchases');
  await tx.$executeRaw`
    UPDATE ${table}
       SET refunded_cents = GREATEST(refunded_cents, ${held.refunded ?? 0}::int),
           disputed_cents = CASE WHEN ${held.disputes}::int > 0 THEN ${held.disputed ?? 0}::int ELSE disputed_cents END,
           amount_cents = COALESCE(amount_cents, ${held.charge_amount}::int),
           updated_at = now()
     WHERE id = ${owner.id}::uuid`;
  return sync(tx, owner, key);
}

async function sync(tx: Tx, owner: Owner, key: string): Promise<ChargeResult> {
  const moved =
    owner.kind === 'payment' ? await syncPaymentTakeBack(tx, { paymentId: owner.id, key }) : await syncPurchaseTakeBack(tx, { purchaseId: owner.id, key });
  return { paymentId: owner.id, kind: owner.kind, moved };
}
