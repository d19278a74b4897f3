import supertest from 'supertest';
import { loadConfig } from '../../src/config';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** The development-only route (the console's test checkout) exists only where DEV_ROUTES enables it. */

let env: TestEnv;
let user: TestUser;
beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  user = await env.createUser();
});
afterAll(() => env?.stop());

const appWith = (config: TestEnv['config']) => supertest(createApp({ config, logger: createLogger({ level: 'silent', name: 'dev-routes' }), temporal: env.temporal, ...env.runtime }));

describe('the development-only routes', () => {
  it('when NODE_ENV is unset and DEV_ROUTES is not set, then the config keeps them off', () => {
    const { NODE_ENV: _unset, DEV_ROUTES: _off, ...rest } = { ...process.env, ...envOf(env) };
    const config = loadConfig(rest);
    expect({ env: config.env, devRoutes: config.devRoutes }).toEqual({ env: 'development', devRoutes: false });
  });

  it('when DEV_ROUTES is off, then POST /api/v1/dev/complete-checkout is a 404 and the console offers no test checkout, whatever NODE_ENV', async () => {
    for (const nodeEnv of ['development', 'test'] as const) {
      const api = appWith({ ...env.config, env: nodeEnv, devRoutes: false });
      const res = await api.post('/api/v1/dev/complete-checkout').set(user.auth).send({ payment_id: '00000000-0000-4000-8000-000000000000' });
      expect([nodeEnv, res.status, res.body.error?.code]).toEqual([nodeEnv, 404, 'not_found']);
      expect((await api.get('/api/v1/console-config').expect(200)).body).toEqual({ test_checkout: false });
    }
  });

  it('when DEV_ROUTES is on outside production, then the route exists; in production it never does', async () => {
    const on = await appWith({ ...env.config, env: 'development', devRoutes: true }).post('/api/v1/dev/complete-checkout').set(user.auth).send({});
    expect(on.status).toBe(422);
    const production = await appWith({ ...env.config, env: 'production', devRoutes: true }).post('/api/v1/dev/complete-checkout').set(user.auth).send({});
    expect(production.status).toBe(404);
  });
});

/** The environment the test env's config was loaded from, as strings. */
function envOf(e: TestEnv): Record<string, string> {
  return {
    API_KEY_PEPPER: e.config.apiKeyPepper,
    DATABASE_URL: e.config.database.url,
    TEMPORAL_ADDRESS: e.config.temporal.address,
    S3_ACCESS_KEY_ID: e.config.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: e.config.s3.secretAccessKey,
    S3_BUCKET: e.config.s3.bucket,
    REPLICATE_API_TOKEN: e.config.replicate.apiToken,
    STRIPE_SECRET_KEY: e.config.stripe.secretKey,
    STRIPE_WEBHOOK_SECRET: e.config.stripe.webhookSecret,
    TRAINER_MODEL: e.config.training.trainerModel,
    TRAINING_DESTINATION_OWNER: e.config.training.destinationOwner,
  };
}
