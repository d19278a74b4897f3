import type { CreditPack } from '../generated/prisma/client';
import type { PurchaseWithPack } from './purchases';
import { creditsReserved, type UsageRow } from './usage';
import { iso } from '../shared/dates';


/** The public shape of a credit pack. */
export function packView(pack: CreditPack) {
  return {
    id: pack.id,
    name: pack.name,
    description: pack.description,
    credits: pack.credits,
    price_cents: pack.priceCents,
    currency: pack.currency,
  };
}

/** The public shape of a credit purchase; amount and currency are what Stripe charged (null until paid). */
export function purchaseView(purchase: PurchaseWithPack) {
  return {
    purchase_id: purchase.id,
    status: purchase.status,
    pack: packView(purchase.pack),
    credits: purchase.credits,
    // Only while it can still be paid there.
    checkout_url: purchase.status === 'pending' ? purchase.checkoutUrl : null,
    amount_cents: purchase.amountCents,
    currency: purchase.currency,
    created_at: purchase.createdAt.toISOString(),
    paid_at: iso(purchase.paidAt),
  };
}

/** One job in the usage history; credits_spent is null until the job finishes, credits_reserved 0 from then on. */
export function usageView(row: UsageRow) {
  return {
    job_id: row.id,
    model: row.model,
    status: row.status,
    credits_spent: row.creditsSpent,
    credits_reserved: creditsReserved(row),
    created_at: row.createdAt.toISOString(),
    completed_at: iso(row.completedAt),
  };
}
