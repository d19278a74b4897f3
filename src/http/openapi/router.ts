import express, { Router } from 'express';
import type { AppDeps } from '../deps';
import { buildOpenApiDocument } from './document';

/** swagger-ui-dist's folder; its package main would load the whole browser bundle into Node. */
const swaggerUiDir: string = require('swagger-ui-dist/absolute-path.js')();

export const DOCS_ASSETS = '/docs/assets';

// Scripts are files, not inline, so the page works under a Content-Security-Policy of 'self'.
const DOCS_PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>imagegen API</title>
    <link rel="stylesheet" href="${DOCS_ASSETS}/swagger-ui.css">
    <link rel="icon" type="image/png" href="${DOCS_ASSETS}/favicon-32x32.png" sizes="32x32">
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="${DOCS_ASSETS}/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

const DOCS_INIT = `window.ui = SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  persistAuthorization: true,
  presets: [SwaggerUIBundle.presets.apis],
});
`;

/** Public: GET /openapi.json (generated once, at start-up) and the Swagger UI at GET /docs. */
export function createDocsRouter(_deps: AppDeps): Router {
  const document = buildOpenApiDocument();
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(DOCS_PAGE);
  });
  router.get('/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(DOCS_INIT);
  });
  router.use(DOCS_ASSETS, express.static(swaggerUiDir, { index: false, maxAge: '1d' }));
  return router;
}
