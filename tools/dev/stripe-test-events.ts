import { randomBytes } from 'node:crypto';
import Stripe from 'stripe';
import type { CheckoutEventType } from '../../src/payments/stripe-events';

/**
 * Stripe-shaped Checkout Session, refund and dispute events, signed like Stripe signs them,
 * for local use (`npm run stripe:complete`) and tests. The real
 * `stripe.webhooks.constructEvent` verifies them.
 */

const randomId = (prefix: string, bytes = 12) => `${prefix}_${randomBytes(bytes).toString('hex')}`;

export interface CheckoutSessionEventOptions {
  paymentId: string;
  type?: CheckoutEventType | (string & {});
  /** Default: 'paid' for completed and async_payment_succeeded, 'unpaid' otherwise. */
  paymentStatus?: 'paid' | 'unpaid' | 'no_payment_required';
  amountCents?: number | null;
  currency?: string;
  email?: string | null;
  /** Default: a new cs_test_... id. */
  sessionId?: string;
  /** Default: a new pi_... id once something was paid or attempted, else null. */
  paymentIntentId?: string | null;
  /** Default: evt_local_<random>. */
  eventId?: string;
  /** Event creation time (Unix seconds). Default: now. */
  created?: number;
  metadata?: Record<string, string>;
  /** false: leave client_reference_id out (the payment is then found by metadata or session id). */
  clientReference?: boolean;
}

/** The fields of a checkout.session.* event that matter, shaped like Stripe sends them. */
export interface CheckoutSessionEvent {
  id: string;
  object: 'event';
  api_version: string;
  created: number;
  livemode: false;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
  data: { object: Record<string, unknown> & { id: string; object: 'checkout.session' } };
}

export function checkoutSessionEvent(opts: CheckoutSessionEventOptions): CheckoutSessionEvent {
  const type = opts.type ?? 'checkout.session.completed';
  const paymentStatus =
    opts.paymentStatus ?? (type === 'checkout.session.completed' || type === 'checkout.session.async_payment_succeeded' ? 'paid' : 'unpaid');
  const sessionStatus = type === 'checkout.session.expired' ? 'expired' : 'complete';
  const created = opts.created ?? Math.floor(Date.now() / 1000);
  const paymentIntent = opts.paymentIntentId !== undefined ? opts.paymentIntentId : sessionStatus === 'complete' ? randomId('pi', 12) : null;
  const amount = opts.amountCents === undefined ? null : opts.amountCents;
  const email = opts.email === undefined ? 'customer@example.com' : opts.email;
  return {
    id: opts.eventId ?? randomId('evt_local'),
    object: 'event',
    api_version: Stripe.API_VERSION,
    created,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: {
      object: {
        id: opts.sessionId ?? randomId('cs_test', 16),
        object: 'checkout.session',
        mode: 'payment',
        status: sessionStatus,
        payment_status: paymentStatus,
        amount_subtotal: amount,
        amount_total: amount,
        currency: opts.currency ?? 'usd',
        client_reference_id: opts.clientReference === false ? null : opts.paymentId,
        metadata: opts.metadata ?? { payment_id: opts.paymentId },
        customer: null,
        customer_email: null,
        customer_details: sessionStatus === 'complete' ? { email, name: null, phone: null, address: null, tax_exempt: 'none', tax_ids: [] } : null,
        payment_intent: paymentIntent,
        url: null,
        livemode: false,
        created: created - 60,
        expires_at: created + 23 * 3600,
      },
    },
  };
}

/** The envelope Stripe puts around an event's object. */
function envelope(type: string, object: Record<string, unknown>, eventId?: string) {
  return {
    id: eventId ?? randomId('evt_local'),
    object: 'event' as const,
    api_version: Stripe.API_VERSION,
    created: Math.floor(Date.now() / 1000),
    livemode: false as const,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    data: { object },
  };
}

export interface ChargeRefundedEventOptions {
  /** The PaymentIntent our payment or purchase stored when its checkout was paid. */
  paymentIntentId: string;
  /** What was charged, cents. */
  amount: number;
  /** Refunded so far, cents (Stripe's running total). Default: all of it. */
  amountRefunded?: number;
  /** Default: a new ch_... id. */
  chargeId?: string;
  eventId?: string;
}

/** A `charge.refunded` event: Stripe sends one per refund, with the running total refunded. */
export function chargeRefundedEvent(opts: ChargeRefundedEventOptions) {
  const refunded = opts.amountRefunded ?? opts.amount;
  return envelope(
    'charge.refunded',
    {
      id: opts.chargeId ?? randomId('ch', 12),
      object: 'charge',
      amount: opts.amount,
      amount_captured: opts.amount,
      amount_refunded: refunded,
      refunded: refunded === opts.amount,
      currency: 'usd',
      paid: true,
      status: 'succeeded',
      payment_intent: opts.paymentIntentId,
      livemode: false,
    },
    opts.eventId,
  );
}

export interface DisputeEventOptions {
  type: 'charge.dispute.created' | 'charge.dispute.closed';
  paymentIntentId: string;
  /** What the dispute holds, cents. */
  amount: number;
  /** Default: needs_response when created, won when closed. */
  status?: 'needs_response' | 'won' | 'lost' | 'warning_closed';
  /** Default: a new dp_... id (send the same id for created and closed). */
  disputeId?: string;
  chargeId?: string;
  eventId?: string;
}

/** A `charge.dispute.created` or `charge.dispute.closed` event. */
export function disputeEvent(opts: DisputeEventOptions) {
  return envelope(
    opts.type,
    {
      id: opts.disputeId ?? randomId('dp', 12),
      object: 'dispute',
      amount: opts.amount,
      currency: 'usd',
      charge: opts.chargeId ?? randomId('ch', 12),
      payment_intent: opts.paymentIntentId,
      reason: 'fraudulent',
      status: opts.status ?? (opts.type === 'charge.dispute.created' ? 'needs_response' : 'won'),
      livemode: false,
    },
    opts.eventId,
  );
}

/** The body and `Stripe-Signature` header Stripe would send for this event. */
export function signStripeEvent(event: object, secret: string, timestamp?: number): { payload: string; header: string } {
  const payload = JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp === undefined ? {} : { timestamp }) });
  return { payload, header };
}
