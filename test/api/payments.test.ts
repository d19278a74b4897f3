import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Stripe from 'stripe';
import { checkoutSessionEvent, signStripeEvent } from '../../tools/dev/stripe-test-events';
import { main as stripeComplete } from '../../tools/stripe-complete-payment';
import { startTestEnv, TEST_STRIPE_WEBHOOK_SECRET, type TestEnv, type TestUser } from '../helpers/test-env';

type VersionStatus = 'queued' | 'validating' | 'uploading' | 'training' | 'succeeded' | 'failed' | 'canceled';

let env: TestEnv;
let alice: TestUser;
let bob: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  [alice, bob] = await Promise.all([env.createUser(), env.createUser()]);
});
afterAll(() => env?.stop());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function createPayment(user: TestUser, body: object = { plan_id: 'starter' }, e: TestEnv = env): Promise<string> {
  const res = await e.api.post('/api/v1/payments/create').set(user.auth).send(body);
  expect(res.status).toBe(201);
  return res.body.payment_id;
}

/** A trained (or not yet trained) model of `user`, with the paid base payment it came from. */
async function insertModel(user: TestUser, status: VersionStatus = 'succeeded', e: TestEnv = env): Promise<string> {
  const paymentId = randomUUID();
  const versionId = randomUUID();
  await e.db.payment.create({
    data: { id: paymentId, userId: user.id, planId: 'starter', status: 'paid', amountCents: 1900, currency: 'usd', paidAt: new Date() },
  });
  await e.db.modelVersion.create({
    data: {
      id: versionId,
      userId: user.id,
      paymentId,
      planId: 'starter',
      status,
      triggerWord: 'TOK',
      imageCount: 12,
      workflowId: `training-${versionId}`,
      uploadPrefix: `uploads/${user.id}/${versionId}/`,
    },
  });
  return versionId;
}

function post(payload: string, header?: string) {
  const req = env.api.post('/api/v1/webhooks/stripe').set('Content-Type', 'application/json');
  if (header !== undefined) req.set('Stripe-Signature', header);
  return req.send(payload);
}

function deliver(event: object, opts: { secret?: string; timestamp?: number } = {}) {
  const { payload, header } = signStripeEvent(event, opts.secret ?? TEST_STRIPE_WEBHOOK_SECRET, opts.timestamp);
  return post(payload, header);
}

const paymentRow = (id: string) => env.db.payment.findUniqueOrThrow({ where: { id } });
const getPayment = (user: TestUser, id: string) => env.api.get(`/api/v1/payments/${id}`).set(user.auth);

const STARTER = { id: 'starter', name: 'Starter', description: 'Train your personal model and generate 50 images', price_cents: 1900, currency: 'usd', images: 50, is_init: true };

describe('plans', () => {
  it('when anyone lists plans without an API key, then the active plans come back in sort order with their prices', async () => {
    await env.db.plan.create({ data: { id: 'legacy', name: 'Legacy', description: 'no longer sold', priceCents: 100, currency: 'usd', images: 1, isInit: true, active: false, sortOrder: 0 } });
    const res = await env.api.get('/api/v1/plans').expect(200);
    expect(res.body.items.map((p: { id: string }) => p.id)).toEqual(['starter', 'pro', 'more-50', 'more-200']);
    expect(res.body.items[0]).toEqual(STARTER);
    expect(res.body.items[2]).toEqual({ id: 'more-50', name: '50 more images', description: 'Add 50 images to a model you already trained', price_cents: 900, currency: 'usd', images: 50, is_init: false });
  });
});

describe('creating a payment (stripe-mock as Stripe)', () => {
  it('when a user buys a base plan, then a pending payment with a Stripe checkout URL is created', async () => {
    const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'starter' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ payment_id: expect.stringMatching(UUID), checkout_url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\//), status: 'pending', promocode_applied: false });
    expect(res.headers.location).toBe(`/api/v1/payments/${res.body.payment_id}`);

    const row = await paymentRow(res.body.payment_id);
    expect(row).toMatchObject({ userId: alice.id, planId: 'starter', versionId: null, status: 'pending', checkoutUrl: res.body.checkout_url, promotionCode: null });
    expect(row.checkoutSessionId).toMatch(/^cs_test_/);

    const view = await getPayment(alice, res.body.payment_id).expect(200);
    expect(view.body).toEqual({
      payment_id: res.body.payment_id,
      status: 'pending',
      plan: STARTER,
      version_id: null,
      checkout_url: res.body.checkout_url,
      amount_cents: null,
      currency: null,
      promotion_code: null,
      created_at: expect.any(String),
      paid_at: null,
    });
  });

  it('when the plan is unknown or no longer sold, then 404 not_found and no payment is made', async () => {
    const before = await env.db.payment.count();
    for (const plan_id of ['platinum', 'legacy']) {
      const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id }).expect(404);
      expect(res.body.error.code).toBe('not_found');
      expect(res.body.error.message).toContain(plan_id);
    }
    expect(await env.db.payment.count()).toBe(before);
  });

  it('when the request has no API key or an unexpected field, then 401 / 422', async () => {
    await env.api.post('/api/v1/payments/create').send({ plan_id: 'starter' }).expect(401);
    const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'starter', price: 1 }).expect(422);
    expect(res.body.error.code).toBe('validation_failed');
    const bad = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'more-50', version_id: 'nope' }).expect(422);
    expect(bad.body.error.message).toContain('version_id');
  });

  it('when an add-on has no version_id, then 422 asking for one of your trained models', async () => {
    const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'more-50' }).expect(422);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.message).toMatch(/send version_id/);
    expect(res.body.error.details.issues[0].field).toBe('version_id');
  });

  it("when an add-on names someone else's model or a missing one, then 422 and no payment", async () => {
    const bobsModel = await insertModel(bob);
    const before = await env.db.payment.count();
    for (const version_id of [bobsModel, randomUUID()]) {
      const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'more-50', version_id }).expect(422);
      expect(res.body.error.message).toContain('version_id must be one of your trained models');
    }
    expect(await env.db.payment.count()).toBe(before);
  });

  it('when an add-on names a model that is not trained yet, then 422', async () => {
    const training = await insertModel(alice, 'training');
    const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'more-200', version_id: training }).expect(422);
    expect(res.body.error.message).toMatch(/not trained yet \(status: training\)/);
  });

  it('when an add-on names a trained model of the caller, then the payment is created for that model', async () => {
    const model = await insertModel(alice);
    const id = await createPayment(alice, { plan_id: 'more-50', version_id: model });
    const view = await getPayment(alice, id).expect(200);
    expect(view.body).toMatchObject({ status: 'pending', version_id: model, plan: { id: 'more-50', is_init: false } });
  });

  it('when a base plan is sent with a version_id, then 422: a base plan trains a new model', async () => {
    const model = await insertModel(alice);
    const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'pro', version_id: model }).expect(422);
    expect(res.body.error.message).toContain('a base plan trains a new model; do not send version_id');
  });

  it('when a promotion code is unknown or inactive at Stripe (stripe-mock answers every lookup with its inactive FALL20 fixture), then it is dropped and checkout goes on without it', async () => {
    for (const promocode_id of ['SPRING10', 'FALL20', 'promo_1Pgc79B7WZ01zgkWNy4mn5NX']) {
      const res = await env.api.post('/api/v1/payments/create').set(alice.auth).send({ plan_id: 'starter', promocode_id }).expect(201);
      expect(res.body).toMatchObject({ status: 'pending', promocode_applied: false, checkout_url: expect.any(String) });
      expect((await getPayment(alice, res.body.payment_id).expect(200)).body.promotion_code).toBeNull();
    }
  });

  it("when another user asks for a payment, then 404; a malformed id is 422", async () => {
    const id = await createPayment(alice);
    const res = await getPayment(bob, id).expect(404);
    expect(res.body.error.code).toBe('not_found');
    await getPayment(bob, 'not-a-uuid').expect(422);
  });
});

describe('Stripe webhooks', () => {
  it('when a signed checkout.session.completed (paid) arrives, then the payment is paid with amount, currency, email and ids, and the event is recorded', async () => {
    const id = await createPayment(alice);
    const before = await paymentRow(id);
    const event = checkoutSessionEvent({ paymentId: id, amountCents: 1900, currency: 'usd', email: 'alice@pay.example', paymentIntentId: 'pi_paid_1', sessionId: before.checkoutSessionId! });
    const res = await deliver(event).expect(200);
    expect(res.body).toEqual({ received: true });

    const row = await paymentRow(id);
    expect(row).toMatchObject({ status: 'paid', amountCents: 1900, currency: 'usd', customerEmail: 'alice@pay.example', paymentIntentId: 'pi_paid_1', checkoutSessionId: before.checkoutSessionId });
    expect(row.paidAt).toBeInstanceOf(Date);
    const view = await getPayment(alice, id).expect(200);
    expect(view.body).toMatchObject({ status: 'paid', amount_cents: 1900, currency: 'usd', paid_at: row.paidAt!.toISOString(), checkout_url: null });
    expect(await env.db.webhookEvent.findUnique({ where: { id: `stripe:${event.id}` } })).toMatchObject({ source: 'stripe', type: 'checkout.session.completed' });
  });

  it('when the session carries no client_reference_id, then the payment is found by metadata.payment_id, else by the checkout session id', async () => {
    const byMetadata = await createPayment(alice);
    await deliver(checkoutSessionEvent({ paymentId: byMetadata, clientReference: false, amountCents: 1900 })).expect(200);
    expect((await paymentRow(byMetadata)).status).toBe('paid');

    const bySession = await createPayment(alice);
    const { checkoutSessionId } = await paymentRow(bySession);
    await deliver(checkoutSessionEvent({ paymentId: bySession, clientReference: false, metadata: {}, sessionId: checkoutSessionId!, amountCents: 1900 })).expect(200);
    expect((await paymentRow(bySession)).status).toBe('paid');
  });

  it('when the same add-on event is delivered twice (and concurrently), then it is applied once: one grant, images added once', async () => {
    const model = await insertModel(alice);
    const id = await createPayment(alice, { plan_id: 'more-50', version_id: model });
    const { payload, header } = signStripeEvent(checkoutSessionEvent({ paymentId: id, amountCents: 900 }), TEST_STRIPE_WEBHOOK_SECRET);

    const first = await post(payload, header).expect(200);
    expect(first.body).toEqual({ received: true });
    const state = async () => ({
      total: (await env.db.modelVersion.findUniqueOrThrow({ where: { id: model } })).imagesTotal,
      grants: await env.db.quotaLedger.findMany({ where: { versionId: model } }),
      payment: await paymentRow(id),
    });
    const afterFirst = await state();
    expect(afterFirst.total).toBe(50);
    expect(afterFirst.grants).toEqual([expect.objectContaining({ key: `grant:${id}`, movement: 'grant', images: 50, paymentId: id })]);

    const again = await post(payload, header).expect(200);
    expect(again.body).toEqual({ received: true, duplicate: true });
    const concurrent = await Promise.all([1, 2, 3, 4].map(() => post(payload, header)));
    expect(concurrent.map((r) => r.body)).toEqual(Array(4).fill({ received: true, duplicate: true }));
    // A different event saying the same (async_payment_succeeded after completed) changes nothing either.
    const other = await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.async_payment_succeeded', amountCents: 900 })).expect(200);
    expect(other.body).toEqual({ received: true });

    expect(await state()).toEqual(afterFirst);
  });

  it('when two different paid events for one add-on race, then the images are granted once', async () => {
    const model = await insertModel(alice);
    const id = await createPayment(alice, { plan_id: 'more-200', version_id: model });
    await Promise.all([
      deliver(checkoutSessionEvent({ paymentId: id, amountCents: 2900 })).expect(200),
      deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.async_payment_succeeded', amountCents: 2900 })).expect(200),
    ]);
    expect((await env.db.modelVersion.findUniqueOrThrow({ where: { id: model } })).imagesTotal).toBe(200);
    expect(await env.db.quotaLedger.count({ where: { versionId: model } })).toBe(1);
  });

  it('when expired or async_payment_failed arrive after completed, then the payment stays paid', async () => {
    const id = await createPayment(alice);
    await deliver(checkoutSessionEvent({ paymentId: id, amountCents: 1900 })).expect(200);
    const paid = await paymentRow(id);
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.expired' })).expect(200);
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.async_payment_failed' })).expect(200);
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.completed', paymentStatus: 'unpaid' })).expect(200);
    expect(await paymentRow(id)).toEqual(paid);
  });

  it('when completed arrives unpaid, then it stays pending until async_payment_succeeded makes it paid', async () => {
    const id = await createPayment(alice);
    await deliver(checkoutSessionEvent({ paymentId: id, paymentStatus: 'unpaid', amountCents: 1900, paymentIntentId: 'pi_async' })).expect(200);
    expect(await paymentRow(id)).toMatchObject({ status: 'pending', paidAt: null, amountCents: null });
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.async_payment_succeeded', amountCents: 1900, email: 'late@pay.example', paymentIntentId: 'pi_async' })).expect(200);
    expect(await paymentRow(id)).toMatchObject({ status: 'paid', amountCents: 1900, customerEmail: 'late@pay.example', paymentIntentId: 'pi_async' });
  });

  it('when the async payment fails, then the payment is failed and a later expiry does not change it', async () => {
    const id = await createPayment(alice);
    await deliver(checkoutSessionEvent({ paymentId: id, paymentStatus: 'unpaid' })).expect(200);
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.async_payment_failed' })).expect(200);
    expect((await paymentRow(id)).status).toBe('failed');
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.expired' })).expect(200);
    expect((await getPayment(alice, id).expect(200)).body).toMatchObject({ status: 'failed', checkout_url: null, paid_at: null });
  });

  it('when an open checkout expires, then the pending payment is expired', async () => {
    const id = await createPayment(alice);
    await deliver(checkoutSessionEvent({ paymentId: id, type: 'checkout.session.expired' })).expect(200);
    expect((await getPayment(alice, id).expect(200)).body).toMatchObject({ status: 'expired', checkout_url: null });
  });

  it('when the signature is wrong, missing or the body was altered, then 400 webhook_signature_invalid and nothing changes', async () => {
    const id = await createPayment(alice);
    const event = checkoutSessionEvent({ paymentId: id, amountCents: 1900 });
    const before = await paymentRow(id);

    const wrongSecret = await deliver(event, { secret: 'whsec_someone_else' }).expect(400);
    expect(wrongSecret.body.error.code).toBe('webhook_signature_invalid');
    const missing = await post(JSON.stringify(event)).expect(400);
    expect(missing.body.error.code).toBe('webhook_signature_invalid');
    const garbage = await post(JSON.stringify(event), 'nonsense').expect(400);
    expect(garbage.body.error.code).toBe('webhook_signature_invalid');
    const { payload, header } = signStripeEvent(event, TEST_STRIPE_WEBHOOK_SECRET);
    const altered = await post(payload.replace('"amount_total": 1900', '"amount_total": 1'), header).expect(400);
    expect(altered.body.error.code).toBe('webhook_signature_invalid');

    expect(await paymentRow(id)).toEqual(before);
    expect(await env.db.webhookEvent.findUnique({ where: { id: `stripe:${event.id}` } })).toBeNull();
  });

  it('when the signed timestamp is older than the tolerance, then 400 and nothing changes', async () => {
    const id = await createPayment(alice);
    const event = checkoutSessionEvent({ paymentId: id, amountCents: 1900 });
    const stale = Math.floor(Date.now() / 1000) - env.config.stripe.webhookToleranceSeconds - 60;
    const res = await deliver(event, { timestamp: stale }).expect(400);
    expect(res.body.error).toMatchObject({ code: 'webhook_signature_invalid', message: expect.stringContaining('tolerance') });
    expect((await paymentRow(id)).status).toBe('pending');
    expect(await env.db.webhookEvent.findUnique({ where: { id: `stripe:${event.id}` } })).toBeNull();
  });

  it('when an event type we do not handle arrives, then 200, recorded and ignored', async () => {
    const event = { id: `evt_local_${randomUUID().slice(0, 8)}`, object: 'event', type: 'customer.created', created: 1, livemode: false, data: { object: { id: 'cus_123', object: 'customer' } } };
    const res = await deliver(event).expect(200);
    expect(res.body).toEqual({ received: true, ignored: true });
    expect(await env.db.webhookEvent.findUnique({ where: { id: `stripe:${event.id}` } })).toMatchObject({ type: 'customer.created' });
  });

  it('when the session belongs to no payment of ours, then 200 and ignored', async () => {
    const res = await deliver(checkoutSessionEvent({ paymentId: randomUUID(), amountCents: 1900 })).expect(200);
    expect(res.body).toEqual({ received: true, ignored: true });
    const notUuid = await deliver(checkoutSessionEvent({ paymentId: 'order-42', amountCents: 1900 })).expect(200);
    expect(notUuid.body).toEqual({ received: true, ignored: true });
  });

  it('when the signed body is not JSON or not an event, then 400 invalid_json / 422', async () => {
    const header = (payload: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret: TEST_STRIPE_WEBHOOK_SECRET });
    expect((await post('{not json', header('{not json')).expect(400)).body.error.code).toBe('invalid_json');
    expect((await post('{"hello":1}', header('{"hello":1}')).expect(422)).body.error.code).toBe('validation_failed');
  });
});

describe('npm run stripe:complete', () => {
  it('when run in-process against the running API, then the payment is paid at its plan price', async () => {
    const id = await createPayment(alice, { plan_id: 'pro' });
    const lines: string[] = [];
    const result = await stripeComplete([id, '--api', env.baseUrl, '--secret', TEST_STRIPE_WEBHOOK_SECRET, '--api-key', alice.apiKey, '--email', 'script@example.com'], {
      env: {},
      log: (l) => lines.push(l),
    });
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ received: true });
    expect(result.event).toMatchObject({ id: expect.stringMatching(/^evt_local_/), type: 'checkout.session.completed' });
    expect(lines.join('\n')).toContain('/api/v1/webhooks/stripe');
    expect(await paymentRow(id)).toMatchObject({ status: 'paid', amountCents: 4900, currency: 'usd', customerEmail: 'script@example.com' });
  });

  it('when spawned as a CLI with --event checkout.session.expired, then the payment expires and the exit code is 0', async () => {
    const id = await createPayment(alice);
    const root = path.resolve(__dirname, '../..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'tools/stripe-complete-payment.ts', id, '--api', env.baseUrl, '--event', 'checkout.session.expired'], {
      cwd: root,
      env: { PATH: process.env.PATH, STRIPE_WEBHOOK_SECRET: TEST_STRIPE_WEBHOOK_SECRET },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(out).toContain('→ 200');
    expect(code).toBe(0);
    expect((await paymentRow(id)).status).toBe('expired');
  });
});

/**
 * stripe-mock cannot say "this promotion code exists and is active" (every lookup returns its
 * inactive FALL20 fixture) nor fail on demand, so these run the real Stripe SDK against a small
 * local server answering Stripe-shaped JSON, through a second API configured with it.
 */
describe('creating a payment (a local Stripe-shaped server as Stripe)', () => {
  interface Recorded { method: string; path: string; headers: http.IncomingHttpHeaders; form: Record<string, string> }
  let fake: { url: string; requests: Recorded[]; failCheckout?: { status: number; body: object }; failPromotionCodes?: boolean; close(): Promise<void> };
  let env2: TestEnv;
  let carol: TestUser;

  const promo = (id: string, code: string, extra: object = {}) => ({
    id, object: 'promotion_code', active: true, code, created: 1, customer: null, customer_account: null, expires_at: null, livemode: false,
    max_redemptions: null, metadata: {}, promotion: { coupon: 'co_10', type: 'coupon' },
    restrictions: { first_time_transaction: false, minimum_amount: null, minimum_amount_currency: null }, times_redeemed: 0, ...extra,
  });
  const PROMOS = [
    promo('promo_spring10', 'SPRING10'),
    promo('promo_old', 'OLD', { expires_at: 1_000_000 }),
    promo('promo_big', 'BIGSPENDER', { restrictions: { first_time_transaction: false, minimum_amount: 10_000, minimum_amount_currency: 'usd' } }),
  ];

  beforeAll(async () => {
    const requests: Recorded[] = [];
    let sessions = 0;
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const form = Object.fromEntries(new URLSearchParams(req.method === 'GET' ? url.search : raw));
        requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, form });
        const send = (status: number, body: object, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'Content-Type': 'application/json', 'Request-Id': `req_${requests.length}`, ...headers });
          res.end(JSON.stringify(body));
        };
        if (fake.failPromotionCodes && url.pathname.startsWith('/v1/promotion_codes')) {
          return send(500, { error: { type: 'api_error', message: 'Something went wrong' } }, { 'Stripe-Should-Retry': 'false' });
        }
        const missing = () => send(404, { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such promotion code' } });
        if (req.method === 'GET' && url.pathname === '/v1/promotion_codes') {
          const code = (form.code ?? '').toLowerCase();
          const data = PROMOS.filter((p) => p.code.toLowerCase() === code && (form.active !== 'true' || p.active));
          return send(200, { object: 'list', data, has_more: false, url: '/v1/promotion_codes' });
        }
        const byId = /^\/v1\/promotion_codes\/([^/]+)$/.exec(url.pathname);
        if (req.method === 'GET' && byId) {
          const found = PROMOS.find((p) => p.id === byId[1]);
          return found ? send(200, found) : missing();
        }
        if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
          if (fake.failCheckout) return send(fake.failCheckout.status, fake.failCheckout.body, { 'Stripe-Should-Retry': 'false' });
          const id = `cs_test_fake_${++sessions}`;
          return send(200, { id, object: 'checkout.session', mode: 'payment', status: 'open', payment_status: 'unpaid', url: `https://checkout.stripe.com/c/pay/${id}`, client_reference_id: form.client_reference_id ?? null });
        }
        send(404, { error: { type: 'invalid_request_error', message: `Unrecognized request URL (${req.method}: ${url.pathname})` } });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake = {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      requests,
      close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
    };
    env2 = await startTestEnv({ worker: false, env: { STRIPE_API_BASE: fake.url } });
    carol = await env2.createUser();
  });
  afterAll(async () => {
    await env2?.stop();
    await fake?.close();
  });
  beforeEach(() => {
    fake.requests.length = 0;
    fake.failCheckout = undefined;
    fake.failPromotionCodes = false;
  });

  const sessionRequest = () => {
    const found = fake.requests.filter((r) => r.path === '/v1/checkout/sessions');
    expect(found).toHaveLength(1);
    return found[0]!;
  };

  it('when a valid promotion code is sent (as a code, any case, or as a promo_ id), then it is applied as a discount and recorded', async () => {
    for (const promocode_id of ['spring10', 'promo_spring10']) {
      // A new buyer each time: the same buyer would get their open checkout back.
      const buyer = await env2.createUser();
      fake.requests.length = 0;
      const res = await env2.api.post('/api/v1/payments/create').set(buyer.auth).send({ plan_id: 'starter', promocode_id }).expect(201);
      expect(res.body).toMatchObject({ status: 'pending', promocode_applied: true });
      expect(sessionRequest().form['discounts[0][promotion_code]']).toBe('promo_spring10');
      expect((await env2.api.get(`/api/v1/payments/${res.body.payment_id}`).set(buyer.auth).expect(200)).body.promotion_code).toBe('SPRING10');
    }
  });

  it('when the checkout session is created, then Stripe gets the plan price, our ids, the URLs and an idempotency key per payment', async () => {
    const model = await insertModel(carol, 'succeeded', env2);
    const res = await env2.api.post('/api/v1/payments/create').set(carol.auth).send({ plan_id: 'more-50', version_id: model }).expect(201);
    const id = res.body.payment_id;
    const row = await env2.db.payment.findUniqueOrThrow({ where: { id } });
    expect(row.checkoutSessionId).toMatch(/^cs_test_fake_/);
    expect(res.body.checkout_url).toBe(`https://checkout.stripe.com/c/pay/${row.checkoutSessionId}`);
    const sent = sessionRequest();
    expect(sent.headers['idempotency-key']).toBe(`checkout-${id}`);
    expect(sent.form).toEqual({
      mode: 'payment',
      'line_items[0][price_data][currency]': 'usd',
      'line_items[0][price_data][unit_amount]': '900',
      'line_items[0][price_data][product_data][name]': '50 more images',
      'line_items[0][price_data][product_data][description]': 'Add 50 images to a model you already trained',
      'line_items[0][quantity]': '1',
      client_reference_id: id,
      'metadata[payment_id]': id,
      'metadata[plan_id]': 'more-50',
      'metadata[user_id]': carol.id,
      'metadata[version_id]': model,
      customer_email: carol.email,
      success_url: `http://127.0.0.1:3000/checkout/success?payment_id=${id}`,
      cancel_url: `http://127.0.0.1:3000/checkout/cancel?payment_id=${id}`,
    });
  });

  it('when the promotion code is unknown (404), expired or above the plan price minimum, then it is dropped', async () => {
    for (const promocode_id of ['promo_doesnotexist', 'NOSUCHCODE', 'OLD', 'BIGSPENDER']) {
      const buyer = await env2.createUser();
      fake.requests.length = 0;
      const res = await env2.api.post('/api/v1/payments/create').set(buyer.auth).send({ plan_id: 'starter', promocode_id }).expect(201);
      expect(res.body.promocode_applied).toBe(false);
      expect(sessionRequest().form['discounts[0][promotion_code]']).toBeUndefined();
    }
  });

  it('when Stripe is down (5xx), then 503 payment_provider_unavailable and the payment is failed without a checkout URL', async () => {
    fake.failCheckout = { status: 500, body: { error: { type: 'api_error', message: 'Something went wrong' } } };
    const res = await env2.api.post('/api/v1/payments/create').set(carol.auth).send({ plan_id: 'pro' }).expect(503);
    expect(res.body.error).toMatchObject({ code: 'payment_provider_unavailable', message: expect.stringContaining('try again') });
    const rows = await env2.db.payment.findMany({ where: { userId: carol.id, planId: 'pro' } });
    expect(rows).toEqual([expect.objectContaining({ status: 'failed', checkoutUrl: null, checkoutSessionId: null })]);
  });

  it('when Stripe is down while the promotion code is checked, then 503 and no payment is made at all', async () => {
    fake.failPromotionCodes = true;
    const before = await env2.db.payment.count();
    const res = await env2.api.post('/api/v1/payments/create').set(carol.auth).send({ plan_id: 'starter', promocode_id: 'SPRING10' }).expect(503);
    expect(res.body.error.code).toBe('payment_provider_unavailable');
    expect(await env2.db.payment.count()).toBe(before);
    expect(fake.requests.filter((r) => r.path === '/v1/checkout/sessions')).toHaveLength(0);
  });

  it('when Stripe refuses the request (4xx), then 502 payment_provider_unavailable and no pending payment is left', async () => {
    fake.failCheckout = { status: 400, body: { error: { type: 'invalid_request_error', message: 'Invalid currency' } } };
    const buyer = await env2.createUser();
    const res = await env2.api.post('/api/v1/payments/create').set(buyer.auth).send({ plan_id: 'starter' }).expect(502);
    expect(res.body.error.code).toBe('payment_provider_unavailable');
    expect(await env2.db.payment.count({ where: { userId: buyer.id, status: 'pending' } })).toBe(0);
  });
});
