import type { DbOrTx, Tx } from '../db/transaction';
import { inTransaction } from '../db/transaction';
import type { Payment } from '../generated/prisma/client';
import { applyCreditPackSession, isCreditPackSession } from '../credits/checkout-sessions';
import { grantImages } from '../quota/ledger';
import { applyKeptChargeEvents } from './refunds';
import type { Stripe } from '../stripe/client';
import { checkoutOutcome, sessionPaymentIntentId, type ApplyResult, type TransitionResult } from './session-outcome';

/**
 * The payment state machine, and where a Checkout Session moves it:
 *
 *   pending ──► paid                (terminal: money received; never goes back)
 *      │  └──► failed | expired     (only from pending)
 *   failed | expired ──► paid       (Stripe says it was paid after all: the money wins)
 *
 * Every state change is one conditional UPDATE in a transaction, so out-of-order or
 * concurrent deliveries cannot move a payment backwards, and a paid add-on grants its
 * images in the same transaction (idempotent per payment through the quota ledger).
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PaidDetails {
  amountCents: number | null;
  currency: string | null;
  customerEmail: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  paidAt?: Date;
}

/**
 * Marks a payment paid (from any status but paid) with what Stripe charged; a paid add-on
 * grants its plan's images to its model in the same transaction. Idempotent.
 */
export async function markPaid(db: DbOrTx, paymentId: string, details: PaidDetails): Promise<TransitionResult> {
  return inTransaction(db, async (tx) => {
    const payment = await tx.payment.findUniqueOrThrow({ where: { id: paymentId }, include: { plan: true } });
    const moved = await tx.payment.updateMany({
      where: { id: paymentId, status: { not: 'paid' } },
      data: {
        status: 'paid',
        paidAt: details.paidAt ?? new Date(),
        amountCents: details.amountCents,
        currency: details.currency?.toLowerCase() ?? null,
        customerEmail: details.customerEmail,
        paymentIntentId: details.paymentIntentId,
        // Keep the session we created; only fill it in if we never stored one.
        ...(payment.checkoutSessionId === null && details.checkoutSessionId ? { checkoutSessionId: details.checkoutSessionId } : {}),
      },
    });
    if (moved.count === 0) return { changed: false, status: 'paid', imagesGranted: 0 };
    let imagesGranted = 0;
    if (!payment.plan.isInit && payment.versionId) {
      // Base plans grant on training success (the training workflow); add-ons grant now.
      const granted = await grantImages(tx, { versionId: payment.versionId, paymentId, images: payment.plan.images });
      if (granted) imagesGranted = payment.plan.images;
    }
    // Refunds and disputes that came before the payment was paid hold their share now.
    await applyKeptChargeEvents(tx, { kind: 'payment', id: paymentId }, details.paymentIntentId);
    return { changed: true, status: 'paid', imagesGranted };
  });
}

/** pending → failed | expired; any other status stays. Idempotent. */
export async function markClosed(db: DbOrTx, paymentId: string, status: 'failed' | 'expired'): Promise<TransitionResult> {
  const moved = await db.payment.updateMany({ where: { id: paymentId, status: 'pending' }, data: { status } });
  if (moved.count === 1) return { changed: true, status, imagesGranted: 0 };
  const now = await db.payment.findUniqueOrThrow({ where: { id: paymentId }, select: { status: true } });
  return { changed: false, status: now.status, imagesGranted: 0 };
}

/**
 * Applies a Stripe Checkout Session object to its payment, idempotently: the webhook calls it
 * for every checkout event (inside the transaction that records the event), and
 * reconciliation can call it with a session retrieved from Stripe (ideally with
 * `expand: ['payment_intent']`) for payments whose webhook never arrived. With a client it
 * opens its own transaction; with a transaction it joins it.
 *
 * The payment is found by `client_reference_id`, then `metadata.payment_id`, then the
 * session id. A credit-pack session (`metadata.kind = credit_pack`) goes to its credit
 * purchase instead (src/credits/checkout-sessions.ts), which adds the pack's credits once.
 */
export async function applyCheckoutSession(
  db: DbOrTx,
  session: Stripe.Checkout.Session,
  opts: { eventType?: string; paidAt?: Date } = {},
): Promise<ApplyResult> {
  return inTransaction(db, async (tx) => {
    const outcome = checkoutOutcome(session, opts.eventType);
    if (isCreditPackSession(session)) return applyCreditPackSession(tx, session, outcome, opts.paidAt);
    const payment = await findPaymentForSession(tx, session);
    if (!payment) return { paymentId: null, outcome, changed: false, status: null, imagesGranted: 0 };

    let result: TransitionResult;
    switch (outcome) {
      case 'paid':
        result = await markPaid(tx, payment.id, {
          amountCents: session.amount_total ?? null,
          currency: session.currency ?? null,
          customerEmail: session.customer_details?.email ?? session.customer_email ?? null,
          checkoutSessionId: session.id ?? null,
          paymentIntentId: sessionPaymentIntentId(session),
          paidAt: opts.paidAt,
        });
        break;
      case 'failed':
      case 'expired':
        result = await markClosed(tx, payment.id, outcome);
        break;
      case 'pending':
        result = { changed: false, status: payment.status, imagesGranted: 0 };
        break;
    }
    return { paymentId: payment.id, outcome, ...result };
  });
}

async function findPaymentForSession(tx: Tx, session: Stripe.Checkout.Session): Promise<Payment | null> {
  const ids = [session.client_reference_id, session.metadata?.payment_id].filter((v): v is string => typeof v === 'string' && UUID.test(v));
  for (const id of new Set(ids)) {
    const payment = await tx.payment.findUnique({ where: { id } });
    if (payment) return payment;
  }
  if (typeof session.id === 'string' && session.id) return tx.payment.findUnique({ where: { checkoutSessionId: session.id } });
  return null;
}
