import supertest from 'supertest';
import { createApp } from '../../src/http/app';
import { READY_CACHE_MS } from '../../src/http/routes/health';
import { createLogger } from '../../src/logger';
import { sleep } from '../helpers/http';
import { startTestEnv, type TestEnv } from '../helpers/test-env';

/**
 * GET /health/ready: cached for READY_CACHE_MS, and discreet (names and up or down, nothing else).
 * GET /metrics: in production only behind METRICS_TOKEN.
 */

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv({ worker: false });
});
afterAll(() => env?.stop());

/** The app with a provider whose readiness call is counted and can be made to fail. */
function appWithProvider() {
  const state = { calls: 0, failure: undefined as Error | undefined };
  const provider = {
    ...env.runtime.provider,
    getWebhookSecret: async () => {
      state.calls++;
      if (state.failure) throw state.failure;
      return 'whsec_x';
    },
  };
  const app = createApp({ config: env.config, logger: createLogger({ level: 'silent', name: 'readiness-test' }), temporal: env.temporal, ...env.runtime, provider });
  return { api: supertest(app), state };
}

describe('GET /health/ready', () => {
  it('when probes ask many times at once and in a row, then the provider is asked once per cache window', async () => {
    const { api, state } = appWithProvider();
    const answers = await Promise.all(Array.from({ length: 10 }, () => api.get('/health/ready')));
    for (let i = 0; i < 10; i++) answers.push(await api.get('/health/ready'));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(answers[0]!.body).toEqual({
      status: 'ready',
      components: { postgres: { status: 'up' }, temporal: { status: 'up' }, s3: { status: 'up' }, provider: { status: 'up' } },
    });
    // Twenty answers within one window (a loaded machine may just cross into a second one).
    expect(state.calls).toBeGreaterThanOrEqual(1);
    expect(state.calls).toBeLessThanOrEqual(2);
  });

  it('when a dependency is down, then the answer names it down and carries no error text, and it is seen again after the cache window', async () => {
    const { api, state } = appWithProvider();
    state.failure = new Error('connect ECONNREFUSED 10.1.2.3:443 secret-host.internal');
    const down = await api.get('/health/ready').expect(503);
    expect(down.body).toEqual({
      status: 'unavailable',
      components: { postgres: { status: 'up' }, temporal: { status: 'up' }, s3: { status: 'up' }, provider: { status: 'down' } },
    });
    expect(down.text).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|secret-host|latency/);

    // Recovered: once the cached verdict's window is over, the dependency is asked again.
    state.failure = undefined;
    const calls = state.calls;
    await sleep(READY_CACHE_MS + 100);
    await api.get('/health/ready').expect(200);
    expect(state.calls).toBe(calls + 1);
  });
});

describe('GET /metrics in production', () => {
  const app = (token?: string) =>
    supertest(
      createApp({
        config: { ...env.config, env: 'production', metrics: { ...env.config.metrics, token } },
        logger: createLogger({ level: 'silent', name: 'metrics-test' }),
        temporal: env.temporal,
        ...env.runtime,
      }),
    );

  it('when no METRICS_TOKEN is set, then /metrics does not exist (404 not_found)', async () => {
    const res = await app().get('/metrics').expect(404);
    expect(res.body.error.code).toBe('not_found');
    expect(res.text).not.toContain('imagegen_');
  });

  it('when METRICS_TOKEN is set, then /metrics needs it as a bearer token', async () => {
    const api = app('metrics-token-0123456789');
    expect((await api.get('/metrics').expect(401)).body.error.code).toBe('unauthorized');
    await api.get('/metrics').set('Authorization', 'Bearer wrong').expect(401);
    const res = await api.get('/metrics').set('Authorization', 'Bearer metrics-token-0123456789').expect(200);
    expect(res.text).toContain('imagegen_http_requests_total');
  });

  it('when not in production, then /metrics answers without a token as before', async () => {
    await supertest(createApp({ config: env.config, logger: createLogger({ level: 'silent', name: 'metrics-test' }), temporal: env.temporal, ...env.runtime }))
      .get('/metrics')
      .expect(200);
  });
});
