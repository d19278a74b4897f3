import { Router } from 'express';
import { CREDIT_PACK_KIND } from '../../src/credits/checkout-sessions';
import { getOwnPurchase } from '../../src/credits/purchases';
import { currentUser } from '../../src/http/auth';
import type { AppDeps } from '../../src/http/deps';
import { completeCheckoutBody } from '../../src/http/routes/console';
import { parse } from '../../src/http/validate';
import { getOwnPayment } from '../../src/payments/checkout';
import { handleStripeEvent, verifyStripeEvent } from '../../src/payments/stripe-events';
import { checkoutSessionEvent, signStripeEvent } from './stripe-test-events';

/**
 * POST /api/v1/dev/complete-checkout `{payment_id}` or `{purchase_id}`, development only
 * (src/http/routes/console.ts mounts it outside production): completes one of the caller's
 * checkouts as `npm run stripe:complete` does, for the web console on stripe-mock, where no
 * checkout page can be paid. The server builds the same checkout.session.completed event with
 * the plan's or pack's price, signs it with its own webhook secret (which never reaches the
 * browser), and passes the signed bytes through the Stripe webhook's verification and handler.
 */
export function createDevCheckoutRouter({ db, stripe, config }: Pick<AppDeps, 'db' | 'stripe' | 'config'>): Router {
  const router = Router();
  router.post('/dev/complete-checkout', async (req, res) => {
    const userId = currentUser(req).id;
    const body = parse(completeCheckoutBody, req.body);
    const target = 'payment_id' in body ? await paymentTarget(db, userId, body.payment_id) : await purchaseTarget(db, userId, body.purchase_id);

    const event = checkoutSessionEvent({ paymentId: target.id, amountCents: target.priceCents, currency: target.currency, ...target.extra });
    const { payload, header } = signStripeEvent(event, config.stripe.webhookSecret);
    const verified = verifyStripeEvent(stripe, config.stripe, Buffer.from(payload), header);
    await handleStripeEvent(db, verified);
    req.log.info({ eventId: event.id, [target.kind]: target.id }, 'dev: test checkout completed');
    res.json({ event_id: event.id, status: await target.status() });
  });
  return router;
}

interface CheckoutTarget {
  kind: 'paymentId' | 'purchaseId';
  id: string;
  priceCents: number;
  currency: string;
  extra: { metadata?: Record<string, string> };
  status(): Promise<string>;
}

async function paymentTarget(db: AppDeps['db'], userId: string, id: string): Promise<CheckoutTarget> {
  const payment = await getOwnPayment(db, userId, id);
  return {
    kind: 'paymentId',
    id,
    priceCents: payment.plan.priceCents,
    currency: payment.plan.currency,
    extra: {},
    status: async () => (await getOwnPayment(db, userId, id)).status,
  };
}

async function purchaseTarget(db: AppDeps['db'], userId: string, id: string): Promise<CheckoutTarget> {
  const purchase = await getOwnPurchase(db, userId, id);
  return {
    kind: 'purchaseId',
    id,
    priceCents: purchase.pack.priceCents,
    currency: purchase.pack.currency,
    // As `npm run stripe:complete -- --credits` sends it: the metadata marks a credit-pack session.
    extra: { metadata: { kind: CREDIT_PACK_KIND, purchase_id: id } },
    status: async () => (await getOwnPurchase(db, userId, id)).status,
  };
}
