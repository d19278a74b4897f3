import { Router } from 'express';
import type { AppDeps } from '../deps';

// Placeholder: GET /openapi.json and GET /docs land with the API docs work.
export function createDocsRouter(_deps: AppDeps): Router {
  return Router();
}
