import type { Router } from 'express';
import type { InputContract } from './catalog/contract';
import type { AppDeps } from './http/deps';

/**
 * The one way development tooling reaches the product. The product never imports a tool
 * (test/unit/import-graph.test.ts); instead a development launcher (the dev stack's API entry,
 * the tests' service, the bench's) installs these before the API starts, and the product
 * consults them only outside production. Nothing installs them in the production image, which
 * has no tools/ at all, and the product ignores them in production anyway.
 */
export interface DevHooks {
  /**
   * Input fields every model accepts besides its contract, outside production: the local
   * provider's per-prediction knobs (fake_latency_ms, fake_error). The provider checks their values.
   */
  inputFields: InputContract;
  /**
   * The router of POST /dev/complete-checkout (the web console's test checkout against
   * stripe-mock), mounted under /api/v1 behind the API key when DEV_ROUTES=true outside production.
   */
  testCheckoutRouter?: (deps: AppDeps) => Router;
}

const NONE: Readonly<DevHooks> = Object.freeze({ inputFields: {} });
let installed: Readonly<DevHooks> = NONE;

/** Installs the development hooks for this process (replacing any installed before). Call it before the API starts. */
export function installDevHooks(hooks: DevHooks): void {
  installed = Object.freeze({ ...hooks, inputFields: Object.freeze({ ...hooks.inputFields }) });
}

/** The hooks installed in this process; none unless a development launcher installed them. */
export function devHooks(): Readonly<DevHooks> {
  return installed;
}
