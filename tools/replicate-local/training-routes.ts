import { Router } from 'express';
import type { ServerContext } from './context';
import { trainingBody } from './request-schemas';
import { serializeJob } from './serialize';
import { createTraining } from './trainings';
import { parseOrThrow } from './validation';

/** POST /models/{owner}/{name}/versions/{version}/trainings. */
export function trainingRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/models/:owner/:name/versions/:version/trainings', (req, res) => {
    const model = ctx.registry.require(req.params.owner, req.params.name);
    const trainer = ctx.registry.versionOf(model, req.params.version);
    const body = parseOrThrow(trainingBody, req.body ?? {}, '');
    res.status(201).json(serializeJob(ctx, createTraining(ctx, trainer, body)));
  });
  return router;
}
