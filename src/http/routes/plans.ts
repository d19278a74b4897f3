import { Router } from 'express';
import { planView } from '../../payments/serialize';
import { listPlans } from '../../payments/plans';
import type { AppDeps } from '../deps';

/** Public: what can be bought. */
export function createPlansRouter({ db }: Pick<AppDeps, 'db'>): Router {
  const router = Router();
  router.get('/plans', async (_req, res) => {
    res.json({ items: (await listPlans(db)).map(planView) });
  });
  return router;
}
