import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { metricsAccess } from '../metrics/access';
import { httpMetrics, metricsHandler } from '../metrics/http';
import { createKeyVerifier } from '../accounts/key-verifier';
import { identifyApiKey, requireApiKey } from './auth';
import { createConsoleRouter } from './console';
import type { AppDeps } from './deps';
import { errorHandler, notFoundHandler } from './errors';
import { corsPolicy, rateLimits, securityHeaders } from './hardening';
import { createDocsRouter } from './openapi/router';
import { createConsoleConfigRouter, createDevRouters } from './routes/console';
import { createBatchesRouter } from './routes/batches';
import { createCreditsRouter } from './routes/credits';
import { createEventsRouter } from './routes/events';
import { createHealthRouter } from './routes/health';
import { createJobsRouter } from './routes/jobs';
import { createKeysRouter } from './routes/keys';
import { createPaymentsRouter } from './routes/payments';
import { createPlansRouter } from './routes/plans';
import { createPromptsRouter } from './routes/prompts';
import { createQuoteRouter } from './routes/quote';
import { createUsersRouter } from './routes/users';
import { createVersionsRouter } from './routes/versions';
import { createQueueBoard } from '../queue/board';
import { createWebhookDeliveriesRouter } from './routes/webhook-deliveries';
import { createWebhooksRouter } from './routes/webhooks';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const isMultipart = (req: { headers: Record<string, unknown> }) => String(req.headers['content-type'] ?? '').startsWith('multipart/');
/** Methods whose operations take a JSON body: a body sent with a GET or DELETE is ignored, never parsed (nor refused). */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** Builds the Express app from its dependencies. server.ts listens; tests drive it in-process. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.config.http.trustProxy);

  // ---- cross-cutting middleware: metrics, request id + logs, security headers, CORS, rate limits ----
  app.use(httpMetrics());
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
      // The status is what matters in a request log; the (security) response headers are the same on every line.
      serializers: { res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }) },
    }),
  );
  app.use(securityHeaders(deps.config));
  const corsMiddleware = corsPolicy(deps.config);
  if (corsMiddleware) app.use(corsMiddleware);
  // In production /metrics exists only behind METRICS_TOKEN (without one it is a 404, like any unknown
  // path); the worker's metrics server follows the same rule (src/metrics/access.ts).
  const metrics = metricsAccess(deps.config);
  if (metrics.served) app.get('/metrics', metricsHandler(metrics.token));
  // Rate limits on /api/v1 (webhooks, health and metrics are not limited): per client address on every
  // request first, then per verified API key or, without one, per client address (src/http/hardening.ts).
  const limits = rateLimits(deps.config, deps.db);
  for (const limiter of limits.beforeAuth) app.use('/api/v1', limiter);
  // ---- end of cross-cutting middleware ----

  app.use(createHealthRouter(deps), createDocsRouter(deps));
  // Webhooks verify signatures over the raw body, so they come before the JSON parser.
  app.use('/api/v1/webhooks', ...limits.webhooks, createWebhooksRouter(deps));
  const keys = createKeyVerifier(deps);
  app.use('/api/v1', identifyApiKey(keys), ...limits.afterAuth);
  // Every non-multipart body is JSON, whatever Content-Type a client (curl -d) sends.
  app.use(express.json({ limit: deps.config.http.jsonBodyLimit, strict: true, type: (req) => BODY_METHODS.has(req.method ?? '') && !isMultipart(req) }));
  app.use('/api/v1', createUsersRouter(deps), createPlansRouter(deps), createConsoleConfigRouter(deps));
  // Where queued work stands (GETs of a queued job, prompt or training): one shared snapshot per process.
  const queue = createQueueBoard({ db: deps.db, createRatePerSecond: deps.config.replicate.createRatePerSecond });
  app.use('/api/v1', requireApiKey(), createJobsRouter(deps, queue), createPaymentsRouter(deps), createVersionsRouter(deps, queue), createPromptsRouter(deps, queue), createCreditsRouter(deps));
  app.use('/api/v1', requireApiKey(), createEventsRouter(deps, keys, queue), createWebhookDeliveriesRouter(deps));
  app.use('/api/v1', requireApiKey(), createKeysRouter(deps, keys), createQuoteRouter(deps));
  app.use('/api/v1', requireApiKey(), createBatchesRouter(deps));
  // Outside production only: completing local test checkouts for the web console.
  app.use('/api/v1', requireApiKey(), ...createDevRouters(deps));
  // The web console (web/), after every API route: it answers only what they did not.
  app.use(createConsoleRouter(deps));

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
