import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** MAX_OPEN_CHECKOUTS: open checkouts are reused per plan or pack, and bounded per user. */
const MAX_OPEN = 3;

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ worker: false, env: { MAX_OPEN_CHECKOUTS: String(MAX_OPEN) } });
});
afterAll(() => env?.stop());

const buyPack = (user: TestUser, packId: string) => env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: packId });
const buyPlan = (user: TestUser, planId: string) => env.api.post('/api/v1/payments/create').set(user.auth).send({ plan_id: planId });

async function openRows(user: TestUser): Promise<number> {
  const where = { userId: user.id, status: 'pending' as const };
  return (await env.db.payment.count({ where })) + (await env.db.creditPurchase.count({ where }));
}

describe('open checkouts', () => {
  it('when a user asks twice for the same pack or plan, then the open checkout comes back instead of a new one', async () => {
    const user = await env.createUser();
    const first = await buyPack(user, 'credits-100').expect(201);
    const again = await buyPack(user, 'credits-100').expect(201);
    expect(again.body).toEqual(first.body);

    const payment = await buyPlan(user, 'starter').expect(201);
    const paymentAgain = await buyPlan(user, 'starter').expect(201);
    expect(paymentAgain.body.payment_id).toBe(payment.body.payment_id);
    expect(paymentAgain.body.checkout_url).toBe(payment.body.checkout_url);
    expect(await openRows(user)).toBe(2);
  });

  it('when a user has the most open checkouts, then one more is 409 too_many_open_checkouts and nothing is created', async () => {
    const user = await env.createUser();
    await buyPack(user, 'credits-100').expect(201);
    await buyPack(user, 'credits-500').expect(201);
    await buyPlan(user, 'starter').expect(201);
    for (const res of [await buyPack(user, 'credits-2000'), await buyPlan(user, 'pro')]) {
      expect(res.status).toBe(409);
      expect(res.body.error).toEqual({
        code: 'too_many_open_checkouts',
        message: expect.stringContaining('at most 3'),
        details: { open_checkouts: 3, max_open_checkouts: 3 },
      });
    }
    expect(await openRows(user)).toBe(3);
    // An open one can still be fetched again at the bound.
    await buyPack(user, 'credits-500').expect(201);
  });

  it('when open checkouts are paid or past their 24 hours, then they no longer count', async () => {
    const user = await env.createUser();
    const a = await buyPack(user, 'credits-100').expect(201);
    await buyPack(user, 'credits-500').expect(201);
    await buyPlan(user, 'starter').expect(201);
    await buyPack(user, 'credits-2000').expect(409);

    await env.db.creditPurchase.update({ where: { id: a.body.purchase_id }, data: { status: 'paid', paidAt: new Date() } });
    await env.db.payment.updateMany({ where: { userId: user.id }, data: { createdAt: new Date(Date.now() - 25 * 3600_000) } });
    const fresh = await buyPack(user, 'credits-2000').expect(201);
    expect(fresh.body.purchase_id).not.toBe(a.body.purchase_id);
    // The expired payment is not handed out again: a new one is made.
    const payment = await buyPlan(user, 'starter').expect(201);
    expect(await env.db.payment.count({ where: { userId: user.id } })).toBe(2);
    expect(payment.body.status).toBe('pending');
  });

  it('when many checkouts are requested at once, then no more than the bound are ever open', async () => {
    const user = await env.createUser();
    const packs = ['credits-100', 'credits-500', 'credits-2000'];
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? buyPack(user, packs[i % 3]!) : buyPlan(user, i % 4 === 1 ? 'starter' : 'pro'))),
    );
    for (const r of results) expect([201, 409]).toContain(r.status);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'too_many_open_checkouts')).toBe(true);
    const ids = new Set(results.filter((r) => r.status === 201).map((r) => r.body.purchase_id ?? r.body.payment_id));
    expect(ids.size).toBeGreaterThanOrEqual(1);
    expect(ids.size).toBeLessThanOrEqual(MAX_OPEN);
    expect(await openRows(user)).toBeLessThanOrEqual(MAX_OPEN);
  });

  it("when another user has open checkouts, then they do not count against this user's bound", async () => {
    const [busy, other] = [await env.createUser(), await env.createUser()];
    await env.db.creditPurchase.createMany({
      data: Array.from({ length: MAX_OPEN }, () => ({ id: randomUUID(), userId: busy.id, packId: 'credits-100', credits: 100, checkoutUrl: null })),
    });
    await buyPack(busy, 'credits-500').expect(409);
    await buyPack(other, 'credits-500').expect(201);
  });
});

describe('the cap comes before Stripe', () => {
  let refusing: TestEnv;
  let stripeCalls: string[];
  let stripe: http.Server;

  beforeAll(async () => {
    // A Stripe that records what it is asked and answers every call with a 500.
    stripeCalls = [];
    stripe = http.createServer((req, res) => {
      stripeCalls.push(`${req.method} ${req.url}`);
      res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'down' } }));
    });
    await new Promise<void>((resolve) => stripe.listen(0, '127.0.0.1', resolve));
    const { port } = stripe.address() as AddressInfo;
    refusing = await startTestEnv({ worker: false, env: { MAX_OPEN_CHECKOUTS: String(MAX_OPEN), STRIPE_API_BASE: `http://127.0.0.1:${port}` } });
  });
  afterAll(async () => {
    await refusing?.stop();
    await new Promise((resolve) => stripe?.close(resolve));
  });

  it('when a user at the cap asks for a plan with a promotion code, then 409 too_many_open_checkouts without any call to Stripe', async () => {
    const user = await refusing.createUser();
    await refusing.db.creditPurchase.createMany({
      data: Array.from({ length: MAX_OPEN }, () => ({ id: randomUUID(), userId: user.id, packId: 'credits-100', credits: 100, checkoutUrl: 'https://checkout.example/x' })),
    });
    const res = await refusing.api.post('/api/v1/payments/create').set(user.auth).send({ plan_id: 'starter', promocode_id: 'SPRING' });
    expect({ status: res.status, code: res.body.error?.code, stripeCalls }).toEqual({ status: 409, code: 'too_many_open_checkouts', stripeCalls: [] });

    // Below the cap the same request does reach Stripe (the recorder works): the promotion code lookup fails there.
    const below = await refusing.createUser();
    const asked = await refusing.api.post('/api/v1/payments/create').set(below.auth).send({ plan_id: 'starter', promocode_id: 'SPRING' });
    expect(asked.body.error?.code).toBe('payment_provider_unavailable');
    expect(stripeCalls.some((call) => call.includes('/v1/promotion_codes'))).toBe(true);
  });
});
