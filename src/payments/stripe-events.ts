import { z } from 'zod';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import type { Stripe } from '../stripe/client';
import { applyCheckoutSession } from './outcome';
import { applyChargeEvent, CHARGE_EVENTS, type ChargeResult } from './refunds';
import type { ApplyResult } from './session-outcome';

/**
 * Stripe webhook events: verified, recorded once, and dispatched to what they change:
 * checkout events move a payment (src/payments/outcome.ts), refund and dispute events take
 * back what it granted (src/payments/refunds.ts). Register these in the Stripe dashboard:
 * STRIPE_EVENTS.
 */

export const CHECKOUT_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
] as const;
export type CheckoutEventType = (typeof CHECKOUT_EVENTS)[number];

/** Every event type the webhook acts on. */
export const STRIPE_EVENTS: readonly string[] = [...CHECKOUT_EVENTS, ...CHARGE_EVENTS];

const eventShape = z.looseObject({
  id: z.string().min(1).max(255),
  type: z.string().min(1).max(255),
  data: z.looseObject({ object: z.looseObject({}) }),
});

/**
 * Verifies a webhook delivery (signature and timestamp over the raw body) and returns its
 * event. Bad or missing signature, or a timestamp beyond the tolerance → 400
 * `webhook_signature_invalid`.
 */
export function verifyStripeEvent(stripe: Stripe, cfg: Config['stripe'], rawBody: Buffer, signature: string | undefined): Stripe.Event {
  let event: unknown;
  try {
    event = stripe.webhooks.constructEvent(rawBody, signature ?? '', cfg.webhookSecret, cfg.webhookToleranceSeconds);
  } catch (err) {
    if (err instanceof stripe.errors.StripeSignatureVerificationError) {
      throw new AppError(400, ErrorCode.webhookSignatureInvalid, `Stripe webhook rejected: ${err.message.split('\n')[0]}`);
    }
    if (err instanceof SyntaxError) throw new AppError(400, ErrorCode.invalidJson, 'The webhook body is not valid JSON');
    throw err;
  }
  const parsed = eventShape.safeParse(event);
  if (!parsed.success) throw AppError.validation('The webhook body is not a Stripe event', { issues: parsed.error.issues });
  return event as Stripe.Event;
}

export interface StripeEventResult {
  /** This event id was already recorded: nothing changed. */
  duplicate: boolean;
  /** Not an event we act on (recorded all the same). */
  ignored: boolean;
  /** A checkout event's effect on its payment. */
  result?: ApplyResult;
  /** A refund or dispute event's effect. */
  charge?: ChargeResult;
}

/**
 * Records the event once in webhook_events (`stripe:<event id>`) and applies it in the same
 * transaction: either both happen or neither does, and a redelivery changes nothing.
 */
export async function handleStripeEvent(db: Db, event: Stripe.Event): Promise<StripeEventResult> {
  return db.$transaction(async (tx) => {
    const fresh = await tx.webhookEvent.createMany({
      data: [{ id: `stripe:${event.id}`, source: 'stripe', type: event.type }],
      skipDuplicates: true,
    });
    if (fresh.count === 0) return { duplicate: true, ignored: false };
    if ((CHARGE_EVENTS as readonly string[]).includes(event.type)) return { duplicate: false, ignored: false, charge: await applyChargeEvent(tx, event) };
    if (!(CHECKOUT_EVENTS as readonly string[]).includes(event.type)) return { duplicate: false, ignored: true };
    const session = event.data.object as Stripe.Checkout.Session;
    return { duplicate: false, ignored: false, result: await applyCheckoutSession(tx, session, { eventType: event.type }) };
  });
}
