import { checkParameters, offeredFields, type ModelContract } from '../../src/catalog/contract';
import { loadConfig } from '../../src/config';
import { devHooks } from '../../src/dev-hooks';
import { testCheckoutsAvailable } from '../../src/http/routes/console';
import { installLocalDevHooks } from '../../tools/dev/local-dev-hooks';
import { MINIMAL_ENV } from '../helpers/config';

/**
 * Development knobs reach the product only through src/dev-hooks.ts, installed by a development
 * launcher: without one the product offers none of them, and in production none ever.
 */
const contract: ModelContract = {
  input: { steps: { type: 'integer', description: 'steps', minimum: 1, maximum: 4 } },
  protectedInput: {},
};
const development = loadConfig({ ...MINIMAL_ENV, NODE_ENV: 'development', DEV_ROUTES: 'true', STRIPE_API_BASE: 'http://127.0.0.1:12111' });
const production = { ...development, env: 'production' as const };

describe('the development hooks', () => {
  // One order: the process starts without hooks, then the launcher installs them.
  it('when no launcher installed them, then no model takes the local provider knobs and there is no test checkout, even in development', () => {
    expect(devHooks()).toEqual({ inputFields: {} });
    expect(Object.keys(offeredFields(contract.input, true))).toEqual(['steps']);
    expect(checkParameters(contract, { fake_latency_ms: 10 }, { devKnobs: true }).issues).toEqual([
      { field: 'parameters.fake_latency_ms', message: 'not a parameter of this model; it takes steps' },
    ]);
    expect(testCheckoutsAvailable(development)).toBe(false);
  });

  it('when the local stack installed them, then development takes the knobs and has the test checkout, and production still has neither', () => {
    installLocalDevHooks();
    expect(Object.keys(offeredFields(contract.input, true))).toEqual(['steps', 'fake_latency_ms', 'fake_error']);
    expect(checkParameters(contract, { fake_latency_ms: 10, fake_error: 'boom' }, { devKnobs: true })).toEqual({ input: { fake_latency_ms: 10, fake_error: 'boom' }, issues: [] });
    expect(testCheckoutsAvailable(development)).toBe(true);

    expect(Object.keys(offeredFields(contract.input, false))).toEqual(['steps']);
    expect(checkParameters(contract, { fake_error: 'boom' }, { devKnobs: false }).issues).toHaveLength(1);
    expect(testCheckoutsAvailable(production)).toBe(false);
  });
});
