import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { createDependencies } from '../../src/dependencies';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { MINIMAL_ENV } from '../helpers/config';

/**
 * Security headers, CORS, rate limits and the metrics token of createApp. One real service
 * (database, Temporal client); each test builds an app with the settings it needs.
 */
let env: TestEnv;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  [alice, bob] = await Promise.all([env.createUser(), env.createUser()]);
});
afterAll(() => env?.stop());
// The limiters count in Postgres (shared by every app over this database): each test starts from zero.
beforeEach(() => env.db.rateLimitCounter.deleteMany());

function appWith(changes: { http?: Partial<Config['http']>; rateLimit?: Partial<Config['rateLimit']>; metrics?: Partial<Config['metrics']> }) {
  const config: Config = {
    ...env.config,
    http: { ...env.config.http, ...changes.http },
    rateLimit: { ...env.config.rateLimit, ...changes.rateLimit },
    metrics: { ...env.config.metrics, ...changes.metrics },
  };
  const app = createApp({ ...env.runtime, config, temporal: env.temporal, logger: createLogger({ level: 'silent', name: 'test' }) });
  return supertest(app);
}

describe('security headers', () => {
  it('when any response goes out, then it carries API-friendly helmet headers and no X-Powered-By', async () => {
    const res = await appWith({}).get('/api/v1/jobs').set(alice.auth).expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
  });
});

describe('CORS', () => {
  const origin = 'https://app.example.com';

  it('when no origins are configured, then no CORS headers are sent', async () => {
    const res = await appWith({}).get('/api/v1/jobs').set(alice.auth).set('Origin', origin).expect(200);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('when the origin is configured, then preflights succeed and responses expose our headers', async () => {
    const api = appWith({ http: { corsOrigins: [origin, 'https://admin.example.com'] } });
    const preflight = await api
      .options('/api/v1/generate')
      .set('Origin', origin)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type,idempotency-key')
      .expect(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(origin);
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(preflight.headers['access-control-allow-headers']).toMatch(/Idempotency-Key/);
    expect(preflight.headers['access-control-allow-credentials']).toBeUndefined();

    const res = await api.get('/api/v1/jobs').set(alice.auth).set('Origin', origin).expect(200);
    expect(res.headers['access-control-allow-origin']).toBe(origin);
    expect(res.headers['access-control-expose-headers']).toContain('X-Request-Id');
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });

  it('when the origin is not configured, then the browser gets no permission', async () => {
    const api = appWith({ http: { corsOrigins: [origin] } });
    const res = await api.options('/api/v1/generate').set('Origin', 'https://evil.example.net').set('Access-Control-Request-Method', 'POST');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('rate limits', () => {
  it('when one API key exceeds its limit, then it gets 429 rate_limited with Retry-After, and other keys are unaffected', async () => {
    const api = appWith({ rateLimit: { perKeyPerMinute: 3 } });
    for (let i = 0; i < 3; i++) await api.get('/api/v1/jobs').set(alice.auth).expect(200);
    const limited = await api.get('/api/v1/jobs').set(alice.auth).expect(429);
    const seconds = limited.body.error.details.retry_after_seconds;
    expect(limited.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringContaining('per API key'), details: { retry_after_seconds: expect.any(Number) } },
    });
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(60);
    expect(limited.headers['retry-after']).toBe(String(seconds));
    expect(limited.headers['ratelimit-policy']).toBe('3;w=60');
    expect(limited.headers['x-request-id']).toEqual(expect.any(String));

    await api.get('/api/v1/jobs').set(bob.auth).expect(200);
  });

  it('when requests without an API key exceed the per-address limit, then they get 429 too', async () => {
    const api = appWith({ rateLimit: { unauthenticatedPerMinute: 2 } });
    await api.get('/api/v1/plans').expect(200);
    await api.get('/api/v1/plans').expect(200);
    const limited = await api.get('/api/v1/plans').expect(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('without an API key') });
    // A client with a key is counted on its own key instead.
    await api.get('/api/v1/plans').set(alice.auth).expect(200);
  });

  it('when many sign-ups from one address send made-up Bearer headers, then they are limited per address like any request without a key', async () => {
    const api = appWith({ rateLimit: { unauthenticatedPerMinute: 3 } });
    const signUp = (i: number) =>
      api.post('/api/v1/users').set('Authorization', `Bearer made-up-key-${i}-${Date.now()}`).send({ email: `bypass-${i}-${Date.now()}@example.com` });
    for (let i = 0; i < 3; i++) expect((await signUp(i)).status).toBe(201);
    for (let i = 3; i < 6; i++) {
      const limited = await signUp(i);
      expect(limited.status).toBe(429);
      expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('without an API key') });
    }
    // A made-up key on a route that needs one is counted the same way, and is still no key.
    expect((await api.get('/api/v1/jobs').set('Authorization', 'Bearer sk_made_up').expect(429)).body.error.code).toBe('rate_limited');
    // A verified key is counted on its own key.
    await api.get('/api/v1/jobs').set(alice.auth).expect(200);
  });

  it('when one address exceeds the per-address ceiling, then even requests with valid API keys get 429', async () => {
    const api = appWith({ rateLimit: { perAddressPerMinute: 3, perKeyPerMinute: 100 } });
    await api.get('/api/v1/jobs').set(alice.auth).expect(200);
    await api.get('/api/v1/jobs').set(bob.auth).expect(200);
    await api.get('/api/v1/plans').expect(200);
    const limited = await api.get('/api/v1/jobs').set(alice.auth).expect(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('per client address') });
  });

  it('when a request sends a key that is not valid, then it is 401 and the per-key limit does not apply to it', async () => {
    const api = appWith({ rateLimit: { perKeyPerMinute: 1 } });
    for (let i = 0; i < 3; i++) {
      const res = await api.get('/api/v1/jobs').set('Authorization', 'Bearer not-a-real-key').expect(401);
      expect(res.body.error).toMatchObject({ code: 'unauthorized', message: 'The API key is not valid' });
    }
    await api.get('/api/v1/jobs').set(alice.auth).expect(200);
  });

  it('when webhooks, health and metrics are called often, then they are never limited', async () => {
    const api = appWith({ rateLimit: { perKeyPerMinute: 1, unauthenticatedPerMinute: 1 } });
    for (let i = 0; i < 4; i++) {
      const hook = await api.post('/api/v1/webhooks/replicate').send({ id: 'x', status: 'succeeded' });
      expect(hook.status).toBe(400);
      expect(hook.body.error.code).toBe('webhook_signature_invalid');
      await api.get('/health').expect(200);
      await api.get('/metrics').expect(200);
    }
  });

  it('when two API processes serve one key, then they count against one shared limit, not one each', async () => {
    const second = createDependencies(env.config);
    try {
      const config = { ...env.config, rateLimit: { ...env.config.rateLimit, perKeyPerMinute: 4 } };
      const logger = createLogger({ level: 'silent', name: 'test' });
      const [a, b] = [env.runtime, second].map((runtime) => supertest(createApp({ ...runtime, config, temporal: env.temporal, logger })));
      for (const api of [a, b, a, b]) await api!.get('/api/v1/jobs').set(alice.auth).expect(200);
      expect((await a!.get('/api/v1/jobs').set(alice.auth).expect(429)).body.error.code).toBe('rate_limited');
      expect((await b!.get('/api/v1/jobs').set(alice.auth).expect(429)).body.error.code).toBe('rate_limited');
    } finally {
      await second.close();
    }
  });

  it('when one address sends webhooks that fail verification, then after the limit it is refused with 429 before any verification', async () => {
    const api = appWith({ rateLimit: { webhookFailuresPerAddressPerMinute: 3 } });
    for (let i = 0; i < 3; i++) {
      const refused = await api.post('/api/v1/webhooks/replicate').send({ id: 'x', status: 'succeeded' }).expect(400);
      expect(refused.body.error.code).toBe('webhook_signature_invalid');
    }
    const limited = await api.post('/api/v1/webhooks/stripe').set('Stripe-Signature', 't=1,v1=00').send('{}').expect(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('fail verification') });
    expect(limited.headers['retry-after']).toMatch(/^\d+$/);
    // Everything else from that address is not affected.
    await api.get('/api/v1/jobs').set(alice.auth).expect(200);
  });

  it('when TRUST_PROXY names the proxy hops, then clients behind it are limited by their own address', async () => {
    const direct = appWith({ rateLimit: { unauthenticatedPerMinute: 1 } });
    await direct.get('/api/v1/plans').set('X-Forwarded-For', '203.0.113.1').expect(200);
    // Without trust proxy, X-Forwarded-For is ignored: same client, second request is over.
    await direct.get('/api/v1/plans').set('X-Forwarded-For', '203.0.113.2').expect(429);

    const proxied = appWith({ http: { trustProxy: 1 }, rateLimit: { unauthenticatedPerMinute: 1 } });
    await proxied.get('/api/v1/plans').set('X-Forwarded-For', '203.0.113.1').expect(200);
    await proxied.get('/api/v1/plans').set('X-Forwarded-For', '203.0.113.2').expect(200);
    await proxied.get('/api/v1/plans').set('X-Forwarded-For', '203.0.113.1').expect(429);
  });
});

describe('GET /metrics access', () => {
  it('when METRICS_TOKEN is set, then /metrics needs it as a bearer token', async () => {
    const api = appWith({ metrics: { token: 'scrape-secret-123' } });
    const denied = await api.get('/metrics').expect(401);
    expect(denied.body.error.code).toBe('unauthorized');
    await api.get('/metrics').set('Authorization', 'Bearer wrong-secret-12').expect(401);
    const ok = await api.get('/metrics').set('Authorization', 'Bearer scrape-secret-123').expect(200);
    expect(ok.text).toContain('imagegen_http_requests_total');
  });
});

describe('body size', () => {
  it('when a JSON body is over JSON_BODY_LIMIT, then it is refused with 413 payload_too_large', async () => {
    const api = appWith({ http: { jsonBodyLimit: '1kb' } });
    const res = await api.post('/api/v1/generate').set(alice.auth).send({ model: 'black-forest-labs/flux-schnell', prompt: 'x'.repeat(4096) }).expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });
});

describe('configuration', () => {
  const minimal = MINIMAL_ENV;

  it('when nothing is set, then there is no CORS, no proxy trust, default limits and loopback worker metrics on 9464/9465', () => {
    const c = loadConfig(minimal);
    expect(c.http.corsOrigins).toEqual([]);
    expect(c.http.trustProxy).toBe(false);
    expect(c.rateLimit).toEqual({ perKeyPerMinute: 600, unauthenticatedPerMinute: 60, perAddressPerMinute: 1200, webhookFailuresPerAddressPerMinute: 30 });
    expect(c.metrics).toEqual({ token: undefined, workerHost: '127.0.0.1', workerSdkPort: 9464, workerAppPort: 9465 });
    expect(c.worker.workflowBundlePath).toBeUndefined();
  });

  it('when the keys are set, then they are parsed: origin lists trimmed, proxy hop counts as numbers', () => {
    const c = loadConfig({
      ...minimal,
      CORS_ORIGINS: ' https://app.example.com/ , https://admin.example.com,',
      TRUST_PROXY: '2',
      RATE_LIMIT_PER_MINUTE: '0',
      METRICS_TOKEN: 'scrape-me',
      WORKER_METRICS_PORT: '0',
      WORKFLOW_BUNDLE_PATH: '/app/dist/workflow-bundle.js',
    });
    expect(c.http.corsOrigins).toEqual(['https://app.example.com', 'https://admin.example.com']);
    expect(c.http.trustProxy).toBe(2);
    expect(c.rateLimit.perKeyPerMinute).toBe(0);
    expect(c.metrics).toMatchObject({ token: 'scrape-me', workerSdkPort: 0 });
    expect(c.worker.workflowBundlePath).toBe('/app/dist/workflow-bundle.js');
    expect(loadConfig({ ...minimal, TRUST_PROXY: 'loopback, 10.0.0.0/8' }).http.trustProxy).toBe('loopback, 10.0.0.0/8');
  });
});
