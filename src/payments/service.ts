import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config';
import type { Db, Prisma } from '../db/client';
import type { Payment, PaymentStatus, Plan } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { applyCreditPackSession, isCreditPackSession } from '../credits/checkout-sessions';
import { grantImages } from '../quota/ledger';
import type { Stripe } from '../stripe/client';
import type { CreatePaymentBody } from './schemas';

/**
 * Payments: plans on sale, Stripe Checkout Sessions, and the payment state machine.
 *
 *   pending ──► paid                (terminal: money received; never goes back)
 *      │  └──► failed | expired     (only from pending)
 *   failed | expired ──► paid       (Stripe says it was paid after all: the money wins)
 *
 * Every state change is one conditional UPDATE in a transaction, so out-of-order or
 * concurrent deliveries cannot move a payment backwards, and a paid add-on grants its
 * images in the same transaction (idempotent per payment through the quota ledger).
 */

type Tx = Prisma.TransactionClient;
/** A client or a transaction: functions taking it join the caller's transaction, or open their own. */
export type DbOrTx = Db | Tx;

export interface PaymentDeps {
  config: Config;
  db: Db;
  stripe: Stripe;
}

export type PaymentWithPlan = Payment & { plan: Plan };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PROMOTION_CODE_ID = /^promo_[A-Za-z0-9]+$/;

function inTransaction<T>(db: DbOrTx, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return '$transaction' in db ? db.$transaction(fn) : fn(db);
}

// ---------------------------------------------------------------------------------------------
// Plans

export async function listPlans(db: DbOrTx): Promise<Plan[]> {
  return db.plan.findMany({ where: { active: true }, orderBy: [{ sortOrder: 'asc' }, { id: 'asc' }] });
}

/** An active plan, or 404. */
export async function getActivePlan(db: DbOrTx, planId: string): Promise<Plan> {
  const plan = await db.plan.findFirst({ where: { id: planId, active: true } });
  if (!plan) throw AppError.notFound(`Plan "${planId}"`);
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Creating a payment (our row, then a Stripe Checkout Session)

export interface CreatePaymentResult {
  payment: PaymentWithPlan;
  promocodeApplied: boolean;
}

/**
 * Validates the plan and the model, checks the promotion code with Stripe, records a pending
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
  const promo = req.body.promocode_id ? await checkPromotionCode(stripe, req.body.promocode_id, plan) : undefined;
  const applied = promo?.applied ? promo : undefined;

  const id = randomUUID();
  await db.payment.create({
    data: { id, userId: req.userId, planId: plan.id, versionId: versionId ?? null, promotionCode: applied?.code ?? null },
  });

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

// ---------------------------------------------------------------------------------------------
// Promotion codes

export type PromotionCheck =
  | { applied: true; id: string; code: string }
  | { applied: false; reason: string };

/**
 * Asks Stripe whether a promotion code can be used for this plan. `requested` is either a
 * customer-facing code ("SPRING10": listed with `code` and `active: true`) or a promotion-code
 * id ("promo_...": retrieved). The answer must really be the requested code (a list or a
 * retrieve can answer with something else, as stripe-mock does with its fixture) and usable:
 * active, not expired, not used up, not restricted to one customer, and the plan price meets
 * its minimum amount. Anything else drops the code. A 4xx from Stripe (no such code) drops it
 * too; a 5xx or a network failure is a 503, since the checkout could not be created either.
 */
export async function checkPromotionCode(stripe: Stripe, requested: string, plan: Pick<Plan, 'priceCents' | 'currency'>): Promise<PromotionCheck> {
  let promo: Stripe.PromotionCode | undefined;
  try {
    if (PROMOTION_CODE_ID.test(requested)) {
      promo = await stripe.promotionCodes.retrieve(requested);
      if (promo.id !== requested) return { applied: false, reason: 'unknown promotion code' };
    } else {
      const list = await stripe.promotionCodes.list({ code: requested, active: true, limit: 1 });
      // Customer-facing codes are case-insensitive at Stripe.
      promo = list.data.find((p) => p.code.toLowerCase() === requested.toLowerCase());
      if (!promo) return { applied: false, reason: 'unknown promotion code' };
    }
  } catch (err) {
    if (err instanceof stripe.errors.StripeInvalidRequestError) return { applied: false, reason: 'unknown promotion code' };
    throw paymentProviderError(stripe, err, 'The promotion code could not be checked');
  }
  const reason = promotionCodeProblem(promo, plan);
  return reason ? { applied: false, reason } : { applied: true, id: promo.id, code: promo.code };
}

function promotionCodeProblem(promo: Stripe.PromotionCode, plan: Pick<Plan, 'priceCents' | 'currency'>, now = Date.now()): string | undefined {
  if (promo.active !== true) return 'inactive promotion code';
  if (promo.expires_at !== null && promo.expires_at * 1000 <= now) return 'expired promotion code';
  if (promo.max_redemptions !== null && promo.times_redeemed >= promo.max_redemptions) return 'promotion code used up';
  if (promo.customer) return 'promotion code restricted to another customer';
  const r = promo.restrictions;
  if (r?.minimum_amount && (r.minimum_amount_currency ?? plan.currency).toLowerCase() === plan.currency.toLowerCase() && plan.priceCents < r.minimum_amount) {
    return 'plan price below the promotion code minimum';
  }
  return undefined;
}

/** 503 for what may pass (network, Stripe 5xx, rate limit), 502 for what will not (Stripe refused the request). */
export function paymentProviderError(stripe: Stripe, err: unknown, what: string): AppError {
  const status = (err as { statusCode?: number }).statusCode;
  const transient =
    !(err instanceof stripe.errors.StripeError) ||
    err instanceof stripe.errors.StripeConnectionError ||
    err instanceof stripe.errors.StripeRateLimitError ||
    status === undefined ||
    status >= 500 ||
    status === 429;
  const message = transient
    ? `${what}: the payment provider is unavailable. No payment was started; try again shortly.`
    : `${what}: the payment provider refused the request. No payment was started.`;
  return new AppError(transient ? 503 : 502, ErrorCode.paymentProviderUnavailable, message, {
    provider: 'stripe',
    ...(err instanceof stripe.errors.StripeError ? { provider_error: err.type, provider_status: status ?? null } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// Reading payments

/** The caller's payment with its plan, or 404: another user's payment does not exist for them. */
export async function getOwnPayment(db: DbOrTx, userId: string, paymentId: string): Promise<PaymentWithPlan> {
  const payment = await db.payment.findFirst({ where: { id: paymentId, userId }, include: { plan: true } });
  if (!payment) throw AppError.notFound('Payment');
  return payment;
}

// ---------------------------------------------------------------------------------------------
// State changes

export interface PaidDetails {
  amountCents: number | null;
  currency: string | null;
  customerEmail: string | null;
  checkoutSessionId: string | null;
  paymentIntentId: string | null;
  paidAt?: Date;
}

export interface TransitionResult {
  /** True if this call changed the payment's status. */
  changed: boolean;
  /** The payment's status afterwards. */
  status: PaymentStatus;
  /** Images granted to the add-on's model by this call (0 otherwise). */
  imagesGranted: number;
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

export const markFailed = (db: DbOrTx, paymentId: string) => markClosed(db, paymentId, 'failed');
export const markExpired = (db: DbOrTx, paymentId: string) => markClosed(db, paymentId, 'expired');

// ---------------------------------------------------------------------------------------------
// Applying Stripe Checkout Sessions (webhooks and reconciliation)

export type CheckoutOutcome = 'paid' | 'failed' | 'expired' | 'pending';

export const CHECKOUT_EVENTS = [
  'checkout.session.completed',
  'checkout.session.async_payment_succeeded',
  'checkout.session.async_payment_failed',
  'checkout.session.expired',
] as const;
export type CheckoutEventType = (typeof CHECKOUT_EVENTS)[number];

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

export interface ApplyResult extends Omit<TransitionResult, 'status'> {
  /** Our payment (or credit purchase) the session belongs to; null if none matches (the session is ignored). */
  paymentId: string | null;
  outcome: CheckoutOutcome;
  status: PaymentStatus | null;
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
          paymentIntentId: typeof session.payment_intent === 'string' ? session.payment_intent : (session.payment_intent?.id ?? null),
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

// ---------------------------------------------------------------------------------------------
// Stripe webhook events

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
  result?: ApplyResult;
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
    if (!(CHECKOUT_EVENTS as readonly string[]).includes(event.type)) return { duplicate: false, ignored: true };
    const session = event.data.object as Stripe.Checkout.Session;
    return { duplicate: false, ignored: false, result: await applyCheckoutSession(tx, session, { eventType: event.type }) };
  });
}
