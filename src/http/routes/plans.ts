import { Router } from 'express';
import type { AppDeps } from '../deps';

// Placeholder: GET /plans (public) lands with the payments work.
export function createPlansRouter(_deps: AppDeps): Router {
  return Router();
}
