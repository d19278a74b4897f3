import { Router } from 'express';
import type { ServerContext } from './context';
import { cancel } from './job-lifecycle';
import type { Job, JobKind } from './jobs';
import { notFound } from './problem';
import { listJobs } from './job-list';
import { serializeJob } from './serialize';

function requireJob(ctx: ServerContext, id: string, kind: JobKind): Job {
  const job = ctx.store.get(id, kind);
  if (!job) throw notFound();
  return job;
}

/** GET /{kind}s (see listJobs), GET /{kind}s/{id} and POST /{kind}s/{id}/cancel (canceling a finished job returns it unchanged). */
export function jobRoutes(ctx: ServerContext, kind: JobKind): Router {
  const base = `/${kind}s`;
  const router = Router();
  router.get(base, (req, res) => {
    const page = listJobs(ctx, kind, req.query);
    res.json({ ...page, results: page.results.map((job) => serializeJob(ctx, job)) });
  });
  router.get(`${base}/:id`, (req, res) => {
    res.json(serializeJob(ctx, requireJob(ctx, req.params.id, kind)));
  });
  router.post(`${base}/:id/cancel`, (req, res) => {
    const job = requireJob(ctx, req.params.id, kind);
    cancel(ctx, job);
    res.json(serializeJob(ctx, job));
  });
  return router;
}
