import express, { Router } from 'express';
import { adminRoutes, fileRoutes } from './admin-routes';
import type { ServerContext } from './context';
import { errorHandler, notFoundRoute, rateLimit, requireAuth } from './http-middleware';
import { jobRoutes } from './job-routes';
import { modelRoutes } from './model-routes';
import { predictionRoutes } from './prediction-routes';
import { trainingRoutes } from './training-routes';

const MAX_BODY = '20mb';

/** The Replicate HTTP API under /v1: auth, rate limits, then the routes. */
function apiRouter(ctx: ServerContext): Router {
  const router = Router();
  router.use(requireAuth, rateLimit(ctx), express.json({ limit: MAX_BODY }));
  router.use(predictionRoutes(ctx), trainingRoutes(ctx), modelRoutes(ctx));
  router.use(jobRoutes(ctx, 'prediction'), jobRoutes(ctx, 'training'));
  return router;
}

export function createApp(ctx: ServerContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use('/v1', apiRouter(ctx));
  app.use(adminRoutes(ctx), fileRoutes(ctx));
  app.use(notFoundRoute);
  app.use(errorHandler(ctx));
  return app;
}
