import type { Payment, Plan } from '../generated/prisma/client';
import { iso } from '../shared/dates';


/** The public shape of a plan. */
export function planView(plan: Plan) {
  return {
    id: plan.id,
    name: plan.name,
    description: plan.description,
    price_cents: plan.priceCents,
    currency: plan.currency,
    images: plan.images,
    is_init: plan.isInit,
  };
}

/** The public shape of a payment; amount and currency are what Stripe charged (null until paid). */
export function paymentView(payment: Payment & { plan: Plan }) {
  return {
    payment_id: payment.id,
    status: payment.status,
    plan: planView(payment.plan),
    version_id: payment.versionId,
    // Only while it can still be paid there.
    checkout_url: payment.status === 'pending' ? payment.checkoutUrl : null,
    amount_cents: payment.amountCents,
    currency: payment.currency,
    promotion_code: payment.promotionCode,
    created_at: payment.createdAt.toISOString(),
    paid_at: iso(payment.paidAt),
  };
}
