import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { DbOrTx } from '../db/transaction';
import type { Payment, Plan } from '../generated/prisma/client';
import { AppError } from '../errors';
import type { Stripe } from '../stripe/client';
import { claimPaymentCheckout, refuseBeyondCheckoutCap } from './open-checkouts';
import { checkPromotionCode, getActivePlan } from './plans';
import type { CreatePaymentBody } from './schemas';
import { paymentProviderError } from './stripe-errors';

/** Creating a payment (our row, then a Stripe Checkout Session), and reading one. */

export interface PaymentDeps {
  config: Config;
  db: Db;
  stripe: Stripe;
}

export type PaymentWithPlan = Payment & { plan: Plan };

export interface CreatePaymentResult {
  payment: PaymentWithPlan;
  promocodeApplied: boolean;
}

/**
 * Validates the plan and the model, refuses a caller at the open-checkout cap, checks the promotion code with Stripe, records a pending
 * payment and creates its Checkout Session (idempotency key `checkout-<payment id>`). If Stripe
 * fails, the payment is marked failed (it has no checkout URL) and the caller gets a 502/503.
 */
export async function createPayment(
  deps: PaymentDeps,
  req: { userId: string; email?: string; body: CreatePaymentBody },
): Promise<CreatePaymentResult> {
  const { db, stripe, config } = deps;
  const plan = await getActivePlan(db, req.body.plan_id);
  const versionId = await checkTargetModel(db, req.userId, plan, req.body.version_id);
  // A caller at the cap is refused before Stripe is asked about the promotion code.
  await refuseBeyondCheckoutCap(deps, { userId: req.userId, planId: plan.id, versionId: versionId ?? null });
  const promo = req.body.promocode_id ? await checkPromotionCode(stripe, req.body.promocode_id, plan) : undefined;
  const applied = promo?.applied ? promo : undefined;

  const id = randomUUID();
  // An open checkout for the same purchase is returned again; at most MAX_OPEN_CHECKOUTS are open (409 beyond).
  const reused = await claimPaymentCheckout(deps, { id, userId: req.userId, planId: plan.id, versionId: versionId ?? null, promotionCode: applied?.code ?? null });
  if (reused) return { payment: reused, promocodeApplied: reused.promotionCode !== null };

  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      checkoutSessionParams(config, { paymentId: id, userId: req.userId, email: req.email, plan, versionId, promotionCodeId: applied?.id }),
      { idempotencyKey: `checkout-${id}` },
    );
    if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  } catch (err) {
    // Nothing usable is left behind: the payment has no checkout URL and is failed.
    await db.payment.updateMany({ where: { id, status: 'pending' }, data: { status: 'failed' } }).catch(() => undefined);
    throw paymentProviderError(stripe, err, 'The checkout could not be created');
  }

  const payment = await db.payment.update({
    where: { id },
    data: { checkoutSessionId: session.id, checkoutUrl: session.url },
    include: { plan: true },
  });
  return { payment, promocodeApplied: applied !== undefined };
}

/**
 * A base plan trains a new model (no version_id); an add-on needs one of the caller's
 * trained models. Returns the model id to store on the payment.
 */
async function checkTargetModel(db: DbOrTx, userId: string, plan: Plan, versionId: string | undefined): Promise<string | undefined> {
  if (plan.isInit) {
    if (versionId) {
      throw AppError.validation('version_id: a base plan trains a new model; do not send version_id', {
        issues: [{ field: 'version_id', message: 'a base plan trains a new model; do not send version_id' }],
      });
    }
    return undefined;
  }
  const problem = (message: string) => AppError.validation(`version_id: ${message}`, { issues: [{ field: 'version_id', message }] });
  if (!versionId) throw problem(`the add-on plan "${plan.id}" adds images to a trained model; send version_id, the id of one of your trained models`);
  const version = await db.modelVersion.findFirst({ where: { id: versionId, userId }, select: { id: true, status: true } });
  if (!version) throw problem('version_id must be one of your trained models');
  if (version.status !== 'succeeded') {
    throw problem(`this model is not trained yet (status: ${version.status}); add-on images can only be added to a model whose training succeeded`);
  }
  return version.id;
}

function checkoutSessionParams(
  config: Config,
  p: { paymentId: string; userId: string; email?: string; plan: Plan; versionId?: string; promotionCodeId?: string },
): Stripe.Checkout.SessionCreateParams {
  const url = (template: string) => template.replaceAll('{PAYMENT_ID}', encodeURIComponent(p.paymentId));
  return {
    mode: 'payment',
    line_items: [
      {
        price_data: {
          currency: p.plan.currency,
          unit_amount: p.plan.priceCents,
          product_data: { name: p.plan.name, description: p.plan.description },
        },
        quantity: 1,
      },
    ],
    client_reference_id: p.paymentId,
    metadata: {
      payment_id: p.paymentId,
      plan_id: p.plan.id,
      user_id: p.userId,
      ...(p.versionId ? { version_id: p.versionId } : {}),
    },
    ...(p.email ? { customer_email: p.email } : {}),
    ...(p.promotionCodeId ? { discounts: [{ promotion_code: p.promotionCodeId }] } : {}),
    success_url: url(config.stripe.successUrl),
    cancel_url: url(config.stripe.cancelUrl),
  };
}

/** The caller's payment with its plan, or 404: another user's payment does not exist for them. */
export async function getOwnPayment(db: DbOrTx, userId: string, paymentId: string): Promise<PaymentWithPlan> {
  const payment = await db.payment.findFirst({ where: { id: paymentId, userId }, include: { plan: true } });
  if (!payment) throw AppError.notFound('Payment');
  return payment;
}
