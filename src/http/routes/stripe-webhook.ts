import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps';

// Placeholder: POST /webhooks/stripe lands with the payments work.
export function stripeWebhookHandler(_deps: AppDeps): RequestHandler {
  return (_req, res) => {
    res.status(501).end();
  };
}
