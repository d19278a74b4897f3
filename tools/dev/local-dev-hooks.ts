import type { InputContract } from '../../src/catalog/contract';
import { installDevHooks, type DevHooks } from '../../src/dev-hooks';
import { createDevCheckoutRouter } from './console-checkout';

/**
 * The local provider's per-prediction test knobs (README: "The local Replicate-compatible
 * server"), as input fields every model accepts outside production. The local provider checks
 * their values (its overridesInput schema): it rejects a negative latency like any invalid input.
 */
export const LOCAL_PROVIDER_INPUT_FIELDS: InputContract = {
  fake_latency_ms: { type: 'number', description: 'Local provider only: how long this prediction takes', dev_only: true },
  fake_error: { type: 'string', description: 'Local provider only: fail this prediction with this message', maxLength: 500, dev_only: true },
};

/** What the local stack adds to the API (src/dev-hooks.ts): the local provider's knobs and the console's test checkout. */
export const LOCAL_DEV_HOOKS: DevHooks = {
  inputFields: LOCAL_PROVIDER_INPUT_FIELDS,
  testCheckoutRouter: createDevCheckoutRouter,
};

/**
 * Installs the local stack's hooks in this process: the dev API entry (./api.ts) does before the
 * API starts, and so do the tests' in-process API (test/helpers/test-env.ts).
 */
export function installLocalDevHooks(): void {
  installDevHooks(LOCAL_DEV_HOOKS);
}
