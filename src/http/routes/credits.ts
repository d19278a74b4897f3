import { Router } from 'express';
import { getBalance } from '../../credits/ledger';
import { createCreditCheckout, getOwnPurchase, listCreditPacks } from '../../credits/purchases';
import { creditCheckoutBody, purchaseIdParam, usageQuery } from '../../credits/schemas';
import { packView, purchaseView, usageView } from '../../credits/serialize';
import { listUsage } from '../../credits/usage';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';
import { createModelsRouter } from './models';
import { createUploadsRouter } from './uploads';

/** Credits (balance, packs, checkout, usage), with the model catalog and job input uploads. All need an API key. */
export function createCreditsRouter(deps: AppDeps): Router {
  const { db } = deps;
  const router = Router();

  router.get('/balance', async (req, res) => {
    res.json(await getBalance(db, currentUser(req).id));
  });

  router.get('/credit-packs', async (_req, res) => {
    res.json({ items: (await listCreditPacks(db)).map(packView) });
  });

  router.post('/credits/checkout', async (req, res) => {
    const user = currentUser(req);
    const { pack_id } = parse(creditCheckoutBody, req.body);
    const purchase = await createCreditCheckout(deps, { userId: user.id, email: user.email, packId: pack_id });
    res.status(201).location(`/api/v1/credits/purchases/${purchase.id}`).json({
      purchase_id: purchase.id,
      checkout_url: purchase.checkoutUrl,
      status: purchase.status,
      credits: purchase.credits,
    });
  });

  router.get('/credits/purchases/:purchase_id', async (req, res) => {
    const { purchase_id } = parse(purchaseIdParam, req.params, 'path');
    res.json(purchaseView(await getOwnPurchase(db, currentUser(req).id, purchase_id)));
  });

  router.get('/usage', async (req, res) => {
    const q = parse(usageQuery, req.query, 'query');
    const { items, nextCursor } = await listUsage(db, currentUser(req).id, q);
    res.json({ items: items.map(usageView), next_cursor: nextCursor });
  });

  router.use(createModelsRouter(deps), createUploadsRouter(deps));
  return router;
}
