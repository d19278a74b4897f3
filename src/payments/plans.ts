import type { Plan } from '../generated/prisma/client';
import type { DbOrTx } from '../db/transaction';
import { AppError } from '../errors';
import type { Stripe } from '../stripe/client';
import { paymentProviderError } from './stripe-errors';

/** Plans on sale, and the promotion codes that may discount them. */

const PROMOTION_CODE_ID = /^promo_[A-Za-z0-9]+$/;

export async function listPlans(db: DbOrTx): Promise<Plan[]> {
  return db.plan.findMany({ where: { active: true }, orderBy: [{ sortOrder: 'asc' }, { id: 'asc' }] });
}

/** An active plan, or 404. */
export async function getActivePlan(db: DbOrTx, planId: string): Promise<Plan> {
  const plan = await db.plan.findFirst({ where: { id: planId, active: true } });
  if (!plan) throw AppError.notFound(`Plan "${planId}"`);
  return plan;
}

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
