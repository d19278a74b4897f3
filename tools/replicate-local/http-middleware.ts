import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ZodError, z } from 'zod';
import type { ServerContext } from './context';
import { notFound, ProblemError } from './problem';
import { SlidingWindowLimiter } from './rate-limit';

const PROBLEM_JSON = 'application/problem+json';
const PREDICTION_CREATE = /^\/(predictions|models\/[^/]+\/[^/]+\/predictions)\/?$/;

/** Any non-empty `Authorization: Bearer <token>` (or `Token <token>`) is accepted. */
export const requireAuth: RequestHandler = (req, res, next) => {
  if (/^(Bearer|Token)\s+\S+/i.test(req.get('authorization') ?? '')) return next();
  res.status(401).json({ detail: 'You did not pass an authentication token' });
};

/** Replicate-style limits: one window for prediction creates, one for every other API call. */
export function rateLimit(ctx: ServerContext): RequestHandler {
  const creates = new SlidingWindowLimiter();
  const others = new SlidingWindowLimiter();
  return (req, res, next) => {
    const isCreate = req.method === 'POST' && PREDICTION_CREATE.test(req.path);
    const { knobs } = ctx;
    const limit = isCreate ? knobs.create_rate_limit_per_minute : knobs.other_rate_limit_per_minute;
    const retryAfter = (isCreate ? creates : others).take(limit, knobs.rate_limit_window_ms);
    if (!retryAfter) return next();
    ctx.stats[isCreate ? 'rate_limited_creates' : 'rate_limited_other']++;
    res
      .status(429)
      .set('Retry-After', String(retryAfter))
      .json({ detail: `Request was throttled. Your rate limit resets in ~${retryAfter}s.` });
  };
}

export const notFoundRoute: RequestHandler = (_req, _res, next) => next(notFound());

/** Renders ProblemErrors, zod errors (admin), body-parser errors and, as 500, anything else. */
export function errorHandler(ctx: ServerContext): ErrorRequestHandler {
  return (err: unknown, req, res, _next) => {
    const problem = toProblem(err);
    if (problem.status >= 500) ctx.logger.warn({ err: String(err), method: req.method, path: req.path }, 'request failed');
    res.status(problem.status).type(PROBLEM_JSON).json(problem);
  };
}

function toProblem(err: unknown): ProblemError {
  if (err instanceof ProblemError) return err;
  if (err instanceof ZodError) return new ProblemError(422, 'Invalid request', z.prettifyError(err));
  const status = (err as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ProblemError(status, 'Bad request', err instanceof Error ? err.message : String(err));
  }
  return new ProblemError(500, 'Internal server error', 'An unexpected error occurred.');
}
