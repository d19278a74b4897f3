import { Router } from 'express';
import type { AppDeps } from '../deps';

// Placeholder: POST /payments/create and GET /payments/:payment_id land with the payments work.
export function createPaymentsRouter(_deps: AppDeps): Router {
  return Router();
}
