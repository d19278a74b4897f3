import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import supertest from 'supertest';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const ROOT = path.resolve(__dirname, '../..');
let env: TestEnv;

beforeAll(async () => {
  // The console's build output, as `npm test` leaves it (a no-op when the sources did not change).
  execFileSync('node', ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
  env = await startTestEnv();
}, 180_000);
afterAll(() => env?.stop());

/** The app as production builds it (NODE_ENV=production), on the same database. */
const productionApi = () =>
  supertest(createApp({ config: { ...env.config, env: 'production' }, logger: createLogger({ level: 'silent', name: 'console-test' }), temporal: env.temporal, ...env.runtime }));

const buyPack = async (user: TestUser) =>
  (await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201)).body.purchase_id as string;
const balance = async (user: TestUser) => (await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body;

describe('the web console at /', () => {
  it('when a browser opens / or a console path, then it gets the console page, whose CSP allows our scripts and the bucket images', async () => {
    const res = await env.api.get('/').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`img-src 'self' data: blob: ${env.config.s3.endpoint}`);
    expect(csp).toContain("frame-ancestors 'none'");

    const script = /src="(\/assets\/[^"]+\.js)"/.exec(res.text)![1]!;
    const asset = await env.api.get(script).expect(200);
    expect(asset.headers['content-type']).toMatch(/javascript/);
    expect(asset.headers['cache-control']).toContain('immutable');

    const pages = [...fs.readFileSync(path.join(ROOT, 'web/src/App.tsx'), 'utf8').matchAll(/\{ path: '([^']+)'/g)].map((m) => m[1]!);
    expect(pages.length).toBeGreaterThan(4);
    for (const route of [...pages, '/checkout/success', '/checkout/cancel']) {
      const page = await env.api.get(route).query({ payment_id: 'x' }).expect(200);
      expect([route, page.text]).toEqual([route, res.text]);
    }
  });

  it('when a path is an API path, a missing file or no console page, then the answer stays the JSON 404, never the console page', async () => {
    for (const p of ['/api/v1/no-such-route', '/health/nope', '/assets/missing.js', '/favicon.ico', '/no/such/page', '/billingx', '/checkout/other']) {
      const res = await env.api.get(p).set({ Authorization: `Bearer ${(await env.createUser()).apiKey}` });
      expect([p, res.status, res.body.error?.code]).toEqual([p, 404, 'not_found']);
    }
  });
});

describe('GET /api/v1/console-config', () => {
  it('when the API runs outside production on stripe-mock, then test checkouts are offered; in production never', async () => {
    expect((await env.api.get('/api/v1/console-config').expect(200)).body).toEqual({ test_checkout: true });
    expect((await productionApi().get('/api/v1/console-config').expect(200)).body).toEqual({ test_checkout: false });
    const realStripe = { ...env.config, stripe: { ...env.config.stripe, apiBase: undefined } };
    const app = createApp({ config: realStripe, logger: createLogger({ level: 'silent', name: 'console-test' }), temporal: env.temporal, ...env.runtime });
    expect((await supertest(app).get('/api/v1/console-config').expect(200)).body).toEqual({ test_checkout: false });
  });
});

describe('POST /api/v1/dev/complete-checkout', () => {
  it("when a user completes their own credit purchase, then the signed test event is applied: paid, and the pack's credits are in the balance", async () => {
    const user = await env.createUser();
    const purchaseId = await buyPack(user);
    const res = await env.api.post('/api/v1/dev/complete-checkout').set(user.auth).send({ purchase_id: purchaseId }).expect(200);
    expect(res.body).toEqual({ event_id: expect.stringMatching(/^evt_local_/), status: 'paid' });
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0 });
    expect(await env.db.webhookEvent.findUnique({ where: { id: `stripe:${res.body.event_id}` } })).toMatchObject({ source: 'stripe', type: 'checkout.session.completed' });
    const pack = await env.db.creditPack.findUniqueOrThrow({ where: { id: 'credits-100' } });
    expect(await env.db.creditPurchase.findUniqueOrThrow({ where: { id: purchaseId } })).toMatchObject({ status: 'paid', amountCents: pack.priceCents, currency: pack.currency });

    // Once paid, completing it again grants nothing more.
    await env.api.post('/api/v1/dev/complete-checkout').set(user.auth).send({ purchase_id: purchaseId }).expect(200);
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0 });
  });

  it('when a user completes their plan payment, then it is paid at the plan price', async () => {
    const user = await env.createUser();
    const paymentId = (await env.api.post('/api/v1/payments/create').set(user.auth).send({ plan_id: 'starter' }).expect(201)).body.payment_id;
    const res = await env.api.post('/api/v1/dev/complete-checkout').set(user.auth).send({ payment_id: paymentId }).expect(200);
    expect(res.body.status).toBe('paid');
    const plan = await env.db.plan.findUniqueOrThrow({ where: { id: 'starter' } });
    expect(await env.db.payment.findUniqueOrThrow({ where: { id: paymentId } })).toMatchObject({ status: 'paid', amountCents: plan.priceCents });
  });

  it("when the checkout is another user's, or the body is wrong, then 404 / 422 / 401 and nothing is paid", async () => {
    const owner = await env.createUser();
    const other = await env.createUser();
    const purchaseId = await buyPack(owner);
    const notFound = await env.api.post('/api/v1/dev/complete-checkout').set(other.auth).send({ purchase_id: purchaseId }).expect(404);
    expect(notFound.body.error.code).toBe('not_found');
    const invalid = await env.api.post('/api/v1/dev/complete-checkout').set(owner.auth).send({ purchase_id: purchaseId, payment_id: purchaseId }).expect(422);
    expect(invalid.body.error.code).toBe('validation_failed');
    await env.api.post('/api/v1/dev/complete-checkout').send({ purchase_id: purchaseId }).expect(401);
    expect((await env.db.creditPurchase.findUniqueOrThrow({ where: { id: purchaseId } })).status).toBe('pending');
    expect(await balance(owner)).toEqual({ credits: 0, reserved: 0 });
  });

  it('when the API runs in production, then the route does not exist (404) and nothing is paid', async () => {
    const user = await env.createUser();
    const purchaseId = await buyPack(user);
    const res = await productionApi().post('/api/v1/dev/complete-checkout').set(user.auth).send({ purchase_id: purchaseId }).expect(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await env.db.creditPurchase.findUniqueOrThrow({ where: { id: purchaseId } })).status).toBe('pending');
  });
});
