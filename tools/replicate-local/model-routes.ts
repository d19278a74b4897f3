import { Router } from 'express';
import type { ServerContext } from './context';
import { createModelBody } from './request-schemas';
import { paginate, serializeModel, serializeVersion } from './serialize';
import { parseOrThrow } from './validation';

/** Models, their versions, and the default webhook secret. */
export function modelRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/models', (req, res) => {
    const body = parseOrThrow(createModelBody, req.body ?? {}, '');
    res.status(201).json(serializeModel(ctx, ctx.registry.create(body)));
  });
  router.get('/models', (req, res) => {
    const page = paginate(ctx.registry.list(), req.query.cursor, (next) => `${ctx.apiBaseUrl}/models?cursor=${next}`);
    res.json({ ...page, results: page.results.map((model) => serializeModel(ctx, model)) });
  });
  router.get('/models/:owner/:name', (req, res) => {
    res.json(serializeModel(ctx, ctx.registry.require(req.params.owner, req.params.name)));
  });
  router.get('/models/:owner/:name/versions', (req, res) => {
    const { owner, name } = req.params;
    const versions = [...ctx.registry.require(owner, name).versions].reverse();
    const page = paginate(versions, req.query.cursor, (next) => `${ctx.apiBaseUrl}/models/${owner}/${name}/versions?cursor=${next}`);
    res.json({ ...page, results: page.results.map(serializeVersion) });
  });
  router.get('/models/:owner/:name/versions/:version', (req, res) => {
    const model = ctx.registry.require(req.params.owner, req.params.name);
    res.json(serializeVersion(ctx.registry.versionOf(model, req.params.version)));
  });
  router.get('/webhooks/default/secret', (_req, res) => {
    res.json({ key: ctx.webhookSecret });
  });
  return router;
}
