import express, { Router } from 'express';
import type { ServerContext } from './context';
import { updateKnobs } from './knobs';
import { notFound } from './problem';

/** GET/POST /admin/knobs (POST merges a partial JSON object) and GET /admin/stats; no auth. */
export function adminRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.get('/admin/knobs', (_req, res) => {
    res.json(ctx.knobs);
  });
  router.post('/admin/knobs', express.json(), (req, res) => {
    const changes = updateKnobs(ctx.knobs, req.body ?? {});
    ctx.logger.info({ changes }, 'knobs updated');
    res.json(ctx.knobs);
  });
  router.get('/admin/stats', (_req, res) => {
    res.json(ctx.stats);
  });
  return router;
}

/** GET /files/{job id}/{name}: output files (404 once expired), like replicate.delivery; no auth. */
export function fileRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.get('/files/:id/:name', (req, res) => {
    const file = ctx.store.file(`${req.params.id}/${req.params.name}`);
    if (!file) throw notFound('File not found (outputs are deleted after output_retention_ms).');
    ctx.stats.files_served++;
    res.type(file.contentType).send(file.data);
  });
  return router;
}
