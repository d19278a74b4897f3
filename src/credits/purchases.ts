import { randomUUID } from 'node:crypto';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { CreditPack, CreditPurchase } from '../generated/prisma/client';
import { AppError } from '../errors';
import { claimCreditCheckout } from '../payments/open-checkouts';
import { paymentProviderError } from '../payments/stripe-errors';
import type { Stripe } from '../stripe/client';
import { CREDIT_PACK_KIND } from './checkout-sessions';

export interface PurchaseDeps {
  config: Config;
  db: Db;
  stripe: Stripe;
}

export type PurchaseWithPack = CreditPurchase & { pack: CreditPack };

export async function listCreditPacks(db: Db): Promise<CreditPack[]> {
  return db.creditPack.findMany({ where: { active: true }, orderBy: [{ sortOrder: 'asc' }, { id: 'asc' }] });
}

/**
 * Returns the caller's open checkout for the same pack if there is one (src/payments/open-checkouts.ts:
 * at most MAX_OPEN_CHECKOUTS open at once, else 409). Otherwise
 * records a pending purchase of an active pack and creates its Checkout Session, marked
 * `metadata.kind = credit_pack` so the Stripe webhook credits it (idempotency key
 * `credits-checkout-<purchase id>`). If Stripe fails, the purchase is marked failed and the
 * caller gets a 502/503, as for payments.
 */
export async function createCreditCheckout(deps: PurchaseDeps, req: { userId: string; email?: string; packId: string }): Promise<PurchaseWithPack> {
  const { db, stripe, config } = deps;
  const pack = await db.creditPack.findFirst({ where: { id: req.packId, active: true } });
  if (!pack) throw AppError.notFound(`Credit pack "${req.packId}"`);

  const id = randomUUID();
  const reused = await claimCreditCheckout(deps, { id, userId: req.userId, packId: pack.id, credits: pack.credits });
  if (reused) return reused;
  const url = (template: string) => template.replaceAll('{PURCHASE_ID}', encodeURIComponent(id));
  let session: Stripe.Checkout.Session;
  try {
    session = await stripe.checkout.sessions.create(
      {
        mode: 'payment',
        line_items: [
          { price_data: { currency: pack.currency, unit_amount: pack.priceCents, product_data: { name: pack.name, description: pack.description } }, quantity: 1 },
        ],
        client_reference_id: id,
        metadata: { kind: CREDIT_PACK_KIND, purchase_id: id, pack_id: pack.id, user_id: req.userId },
        ...(req.email ? { customer_email: req.email } : {}),
        success_url: url(config.credits.successUrl),
        cancel_url: url(config.credits.cancelUrl),
      },
      { idempotencyKey: `credits-checkout-${id}` },
    );
    if (!session.url) throw new Error(`Stripe returned checkout session ${session.id} without a URL`);
  } catch (err) {
    await db.creditPurchase.updateMany({ where: { id, status: 'pending' }, data: { status: 'failed' } }).catch(() => undefined);
    throw paymentProviderError(stripe, err, 'The checkout could not be created');
  }
  return db.creditPurchase.update({ where: { id }, data: { checkoutSessionId: session.id, checkoutUrl: session.url }, include: { pack: true } });
}

/** The caller's purchase with its pack, or 404: another user's purchase does not exist for them. */
export async function getOwnPurchase(db: Db, userId: string, purchaseId: string): Promise<PurchaseWithPack> {
  const purchase = await db.creditPurchase.findFirst({ where: { id: purchaseId, userId }, include: { pack: true } });
  if (!purchase) throw AppError.notFound('Purchase');
  return purchase;
}
