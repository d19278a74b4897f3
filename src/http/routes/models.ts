import { Router } from 'express';
import { listModels, modelView } from '../../catalog/service';
import type { AppDeps } from '../deps';

/** The models POST /generate accepts, with their inputs and prices. */
export function createModelsRouter({ db }: Pick<AppDeps, 'db'>): Router {
  const router = Router();
  router.get('/models', async (_req, res) => {
    res.json({ items: (await listModels(db)).map(modelView) });
  });
  return router;
}
