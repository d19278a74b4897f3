import { setTimeout as sleep } from 'node:timers/promises';
import { Router, type Request, type Response } from 'express';
import type { ServerContext } from './context';
import type { Job } from './jobs';
import { createPrediction } from './predictions';
import { modelPredictionBody, versionPredictionBody } from './request-schemas';
import { serializeJob } from './serialize';
import { parseOrThrow } from './validation';

const MAX_WAIT_SECONDS = 60;

/** Milliseconds to hold the response for `Prefer: wait` (60 s) or `Prefer: wait=N` (N ≤ 60 s); 0 without it. */
function preferredWaitMs(prefer: string | undefined): number {
  const match = /\bwait(?:=(\d+))?/.exec(prefer ?? '');
  if (!match) return 0;
  return Math.min(MAX_WAIT_SECONDS, Number(match[1] ?? MAX_WAIT_SECONDS)) * 1000;
}

async function waitAtMost(settled: Promise<void>, ms: number): Promise<void> {
  const timer = new AbortController();
  await Promise.race([settled, sleep(ms, undefined, { signal: timer.signal }).catch(() => undefined)]);
  timer.abort();
}

/** 201 with the prediction; with `Prefer: wait` only once it is terminal or the wait is over, like Replicate. */
async function respondCreated(ctx: ServerContext, req: Request, res: Response, job: Job): Promise<void> {
  const waitMs = preferredWaitMs(req.get('prefer'));
  if (waitMs > 0) await waitAtMost(job.control.settled, waitMs);
  res.status(201).json(serializeJob(ctx, job));
}

/** POST /predictions and POST /models/{owner}/{name}/predictions. */
export function predictionRoutes(ctx: ServerContext): Router {
  const router = Router();
  router.post('/predictions', async (req, res) => {
    const body = parseOrThrow(versionPredictionBody, req.body ?? {}, '');
    await respondCreated(ctx, req, res, createPrediction(ctx, ctx.registry.resolve(body.version), body));
  });
  router.post('/models/:owner/:name/predictions', async (req, res) => {
    const model = ctx.registry.require(req.params.owner, req.params.name);
    const body = parseOrThrow(modelPredictionBody, req.body ?? {}, '');
    await respondCreated(ctx, req, res, createPrediction(ctx, ctx.registry.latestVersion(model), body));
  });
  return router;
}
