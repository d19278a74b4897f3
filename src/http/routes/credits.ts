import { Router } from 'express';
import type { AppDeps } from '../deps';

// Placeholder: models catalog, credits, usage and uploads land with the credits work.
export function createCreditsRouter(_deps: AppDeps): Router {
  return Router();
}
