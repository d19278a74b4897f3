import { Router } from 'express';
import { z } from 'zod';
import type { Config } from '../../config';
import { devHooks } from '../../dev-hooks';
import type { AppDeps } from '../deps';

/**
 * What the web console (web/) asks the API about itself, and the development-only route it
 * completes local test checkouts with.
 */

export const ConsoleConfig = z
  .object({
    test_checkout: z.boolean().meta({
      description:
        'true when this API runs outside production against stripe-mock: checkouts cannot be paid at a checkout_url, and POST /api/v1/dev/complete-checkout completes them instead',
    }),
  })
  .meta({ id: 'ConsoleConfig' });

export const completeCheckoutBody = z.union([
  z.strictObject({ payment_id: z.uuid({ message: 'must be a payment id (UUID)' }) }),
  z.strictObject({ purchase_id: z.uuid({ message: 'must be a purchase id (UUID)' }) }),
]);

export const CompletedCheckout = z
  .object({
    event_id: z.string().meta({ description: 'The id of the signed checkout.session.completed event that was applied' }),
    status: z.string().meta({ description: 'The payment or purchase status afterwards (paid)' }),
  })
  .meta({ id: 'CompletedCheckout' });

/**
 * Whether the development-only routes exist here: only when DEV_ROUTES says so (an unset
 * NODE_ENV is not enough), never in production, and only where a development launcher installed
 * the test checkout's router (src/dev-hooks.ts; the production image has no launcher that would).
 */
function devRoutesAvailable(config: Config): boolean {
  return config.devRoutes && config.env !== 'production' && devHooks().testCheckoutRouter !== undefined;
}

/** Checkouts cannot be paid for real here (stripe-mock), and the route that completes them exists. */
export function testCheckoutsAvailable(config: Config): boolean {
  return devRoutesAvailable(config) && config.stripe.apiBase !== undefined;
}

/** GET /console-config: public, nothing secret. */
export function createConsoleConfigRouter({ config }: Pick<AppDeps, 'config'>): Router {
  const router = Router();
  const body: z.infer<typeof ConsoleConfig> = { test_checkout: testCheckoutsAvailable(config) };
  router.get('/console-config', (_req, res) => {
    res.json(body);
  });
  return router;
}

/**
 * The development-only routes, mounted behind the API key outside production: the test
 * checkout's router as the development launcher installed it (src/dev-hooks.ts). It signs
 * Stripe test events, which the production build must not contain
 * (test/ops/production-build.test.ts), so the product never imports it.
 */
export function createDevRouters(deps: AppDeps): Router[] {
  const router = devHooks().testCheckoutRouter;
  if (!router || !devRoutesAvailable(deps.config)) return [];
  return [router(deps)];
}
