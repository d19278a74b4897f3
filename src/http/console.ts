import fs from 'node:fs';
import path from 'node:path';
import express, { Router, type RequestHandler } from 'express';
import helmet from 'helmet';
import { AppError, ErrorCode } from '../errors';
import type { AppDeps } from './deps';

/**
 * Where `npm run build:web` writes the console (web/). In the image, dist/web links to it,
 * as dist/prisma does for the migrations.
 */
export const CONSOLE_DIR = path.resolve(__dirname, '../../web/dist');

/** Paths the console never answers: what the API, docs, health and metrics did not match stays their 404. */
const NOT_CONSOLE = /^\/(api|docs|openapi\.json|health|metrics)(\/|$)/;

/**
 * The console's pages (the PAGES of web/src/App.tsx, and the checkout return pages Stripe sends
 * buyers back to). Any other path stays a JSON 404, so a typo is not a blank 200 page;
 * test/api/console.test.ts keeps this list in step with App.tsx.
 */
export const CONSOLE_PAGES = /^\/(billing|batches|train|models|usage|keys|webhooks|account|checkout\/(success|cancel))?\/?$/;

/**
 * The web console at `/`: its built files, and index.html for a GET of one of its pages, so a
 * console page (/billing) loads on refresh. Mounted after every API route.
 * Its page may show our bucket's presigned output URLs (images, audio), so its CSP allows the
 * bucket's origin besides the defaults the API sends everywhere.
 */
export function createConsoleRouter(deps: Pick<AppDeps, 'storage'>, dir = CONSOLE_DIR): Router {
  const router = Router();
  const index = path.join(dir, 'index.html');
  router.use((req, _res, next) => (NOT_CONSOLE.test(req.path) ? next('router') : next()));
  router.use(consoleContentSecurityPolicy(deps.storage));
  // Hashed asset names never change content: cache them; index.html is always revalidated.
  router.use('/assets', express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '1y' }));
  router.use(express.static(dir, { index: false }));
  // A middleware rather than a GET route: the console's pages are not API operations (test/api/openapi.test.ts).
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || !CONSOLE_PAGES.test(req.path)) {
      next();
      return;
    }
    if (!fs.existsSync(index)) {
      next(new AppError(404, ErrorCode.notFound, 'The web console is not built; run npm run build:web'));
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}

/** The default CSP of src/http/hardening.ts, plus images and media from the bucket (and blob: for downloads). */
function consoleContentSecurityPolicy(storage: AppDeps['storage']): RequestHandler {
  let policy: Promise<RequestHandler> | undefined;
  const build = async () => {
    const bucket = new URL(await storage.presignGet('console-origin-probe')).origin;
    return helmet.contentSecurityPolicy({
      useDefaults: true,
      directives: {
        'frame-ancestors': ["'none'"],
        'upgrade-insecure-requests': null,
        'img-src': ["'self'", 'data:', 'blob:', bucket],
        'media-src': ["'self'", 'blob:', bucket],
      },
    });
  };
  return (req, res, next) => {
    policy ??= build().catch((err: unknown) => {
      policy = undefined;
      throw err;
    });
    void policy.then((handler) => handler(req, res, next), next);
  };
}
