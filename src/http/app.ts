import { randomUUID } from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import { requireApiKey } from './auth';
import type { AppDeps } from './deps';
import { errorHandler, notFoundHandler } from './errors';
import { createDocsRouter } from './openapi/router';
import { createCreditsRouter } from './routes/credits';
import { createHealthRouter } from './routes/health';
import { createJobsRouter } from './routes/jobs';
import { createPaymentsRouter } from './routes/payments';
import { createPlansRouter } from './routes/plans';
import { createPromptsRouter } from './routes/prompts';
import { createUsersRouter } from './routes/users';
import { createVersionsRouter } from './routes/versions';
import { createWebhooksRouter } from './routes/webhooks';

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const isMultipart = (req: { headers: Record<string, unknown> }) => String(req.headers['content-type'] ?? '').startsWith('multipart/');

/** Builds the Express app from its dependencies. server.ts listens; tests drive it in-process. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      autoLogging: { ignore: (req) => req.url === '/health' },
    }),
  );

  app.use(createHealthRouter(deps), createDocsRouter(deps));
  // Webhooks verify signatures over the raw body, so they come before the JSON parser.
  app.use('/api/v1/webhooks', createWebhooksRouter(deps));
  // Every non-multipart body is JSON, whatever Content-Type a client (curl -d) sends.
  app.use(express.json({ limit: deps.config.http.jsonBodyLimit, strict: true, type: (req) => !isMultipart(req) }));
  app.use('/api/v1', createUsersRouter(deps), createPlansRouter(deps));
  app.use('/api/v1', requireApiKey(deps.db, deps.config.apiKeyPepper), createJobsRouter(deps), createPaymentsRouter(deps), createVersionsRouter(deps), createPromptsRouter(deps), createCreditsRouter(deps));

  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
