import type { PaymentStatus } from '../generated/prisma/client';
import type { Stripe } from '../stripe/client';

/**
 * What a Stripe Checkout Session means for the row it pays (a plan payment or a credit
 * purchase), and what applying it did. Pure: both src/payments/outcome.ts and
 * src/credits/checkout-sessions.ts build on it without importing each other.
 */

export type CheckoutOutcome = 'paid' | 'failed' | 'expired' | 'pending';

export interface TransitionResult {
  /** True if this call changed the payment's status. */
  changed: boolean;
  /** The payment's status afterwards. */
  status: PaymentStatus;
  /** Images granted to the add-on's model by this call (0 otherwise). */
  imagesGranted: number;
}

export interface ApplyResult extends Omit<TransitionResult, 'status'> {
  /** Our payment (or credit purchase) the session belongs to; null if none matches (the session is ignored). */
  paymentId: string | null;
  outcome: CheckoutOutcome;
  status: PaymentStatus | null;
}

/**
 * What a Checkout Session means for its payment. The event type, when there is one, is
 * authoritative for the async outcomes (a failed async payment leaves the session
 * `complete`/`unpaid`, indistinguishable from "still processing" without the event or an
 * expanded payment_intent).
 */
export function checkoutOutcome(session: Stripe.Checkout.Session, eventType?: string): CheckoutOutcome {
  if (eventType === 'checkout.session.async_payment_failed') return 'failed';
  if (eventType === 'checkout.session.async_payment_succeeded') return 'paid';
  if (session.payment_status === 'paid') return 'paid';
  // A 100 % discount: nothing to charge, the checkout is complete.
  if (session.payment_status === 'no_payment_required' && session.status === 'complete') return 'paid';
  if (eventType === 'checkout.session.expired' || session.status === 'expired') return 'expired';
  const intent = session.payment_intent;
  if (session.status === 'complete' && intent && typeof intent === 'object' && (intent.status === 'canceled' || intent.status === 'requires_payment_method')) {
    return 'failed';
  }
  return 'pending';
}

/** The PaymentIntent id of a session, whether Stripe sent it as an id or expanded. */
export function sessionPaymentIntentId(session: Stripe.Checkout.Session): string | null {
  return typeof session.payment_intent === 'string' ? session.payment_intent : (session.payment_intent?.id ?? null);
}
