import { ledgerBalance } from '../../src/credits/ledger';
import { checkoutSessionEvent } from '../../tools/dev/stripe-test-events';
import { main as stripeComplete } from '../../tools/stripe-complete-payment';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, TEST_STRIPE_WEBHOOK_SECRET, type TestEnv, type TestUser } from '../helpers/test-env';

const FLUX = 'black-forest-labs/flux-schnell';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

/** GET /balance, which must always equal the sums of the caller's ledger. */
async function balance(user: TestUser, e: TestEnv = env): Promise<{ credits: number; reserved: number }> {
  const res = await e.api.get('/api/v1/balance').set(user.auth).expect(200);
  expect(res.body).toEqual(await ledgerBalance(e.db, user.id));
  return res.body;
}

const generate = (user: TestUser, body: object, headers: Record<string, string> = {}) => env.api.post('/api/v1/generate').set(user.auth).set(headers).send(body);
/** A job's ledger rows as { movement: credits }. */
async function jobLedger(jobId: string, e: TestEnv = env): Promise<Record<string, number>> {
  const rows = await e.db.creditLedger.findMany({ where: { jobId } });
  return Object.fromEntries(rows.map((r) => [r.movement, r.credits]));
}

const deliver = (event: object) => env.deliverStripeEvent(event);

describe('the model catalog', () => {
  it('when a user lists the models, then each comes with its kind, the input it takes and its price', async () => {
    const user = await env.createUser();
    const res = await env.api.get('/api/v1/models').set(user.auth).expect(200);
    expect(res.body.items.map((m: { name: string }) => m.name)).toEqual([
      FLUX,
      'stability-ai/sdxl',
      'stability-ai/stable-diffusion-img2img',
      'meta/musicgen',
      'resemble-ai/resemble-enhance',
    ]);
    expect(res.body.items[0]).toEqual({
      name: FLUX,
      kind: 'image',
      description: 'Fast text-to-image',
      input: { prompt: true, file: null, parameters: { aspect_ratio: expect.objectContaining({ type: 'string' }) }, fixed: { disable_safety_checker: false } },
      price: { credits: 2, per: 'output', scale: null, summary: '2 credits per output' },
    });
    expect(res.body.items[4]).toMatchObject({
      kind: 'audio',
      input: { prompt: false, file: { media_types: ['audio/wav', 'audio/mpeg', 'audio/flac', 'audio/ogg'], max_duration_seconds: 600 } },
      price: { credits: 1, per: 'run', scale: { fields: ['input_file.duration'], step: 15, unit: 'seconds' } },
    });
    await env.api.get('/api/v1/models').expect(401);
  });
});

describe('buying credits', () => {
  it('when a user lists the packs, then the seeded packs come back in order with their prices', async () => {
    const user = await env.createUser();
    const res = await env.api.get('/api/v1/credit-packs').set(user.auth).expect(200);
    expect(res.body.items.map((p: { id: string }) => p.id)).toEqual(['credits-100', 'credits-500', 'credits-2000']);
    expect(res.body.items[0]).toEqual({ id: 'credits-100', name: '100 credits', description: '100 credits for image and audio jobs', credits: 100, price_cents: 500, currency: 'usd' });
  });

  it('when a pack is bought and its paid webhook is delivered twice (and concurrently), then the credits are added once', async () => {
    const user = await env.createUser();
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0 });
    const res = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-500' }).expect(201);
    expect(res.body).toEqual({ purchase_id: expect.stringMatching(UUID), checkout_url: expect.stringMatching(/^https:\/\/checkout\.stripe\.com\//), status: 'pending', credits: 500 });
    expect(res.headers.location).toBe(`/api/v1/credits/purchases/${res.body.purchase_id}`);
    const purchaseId = res.body.purchase_id;
    expect((await env.db.creditPurchase.findUniqueOrThrow({ where: { id: purchaseId } })).checkoutSessionId).toMatch(/^cs_test_/);

    const event = checkoutSessionEvent({ paymentId: purchaseId, metadata: { kind: 'credit_pack', purchase_id: purchaseId }, amountCents: 2000 });
    const [a, b] = await Promise.all([deliver(event), deliver(event)]);
    const again = await deliver(event);
    expect([a.status, b.status, again.status]).toEqual([200, 200, 200]);
    expect([a.body, b.body, again.body].filter((r) => r.duplicate)).toHaveLength(2);
    // Another paid event for the same checkout (a new event id) adds nothing either.
    await deliver(checkoutSessionEvent({ paymentId: purchaseId, type: 'checkout.session.async_payment_succeeded', metadata: { kind: 'credit_pack', purchase_id: purchaseId } })).expect(200);

    expect(await balance(user)).toEqual({ credits: 500, reserved: 0 });
    expect(await env.db.creditLedger.findMany({ where: { userId: user.id }, select: { movement: true, credits: true, purchaseId: true } })).toEqual([
      { movement: 'topup', credits: 500, purchaseId },
    ]);
    const view = await env.api.get(`/api/v1/credits/purchases/${purchaseId}`).set(user.auth).expect(200);
    expect(view.body).toMatchObject({ purchase_id: purchaseId, status: 'paid', credits: 500, checkout_url: null, amount_cents: 2000, currency: 'usd', pack: { id: 'credits-500' } });
  });

  it('when the checkout expires, then the purchase expires and no credits are added', async () => {
    const user = await env.createUser();
    const { body } = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201);
    await deliver(checkoutSessionEvent({ paymentId: body.purchase_id, type: 'checkout.session.expired', metadata: { kind: 'credit_pack', purchase_id: body.purchase_id } })).expect(200);
    expect((await env.api.get(`/api/v1/credits/purchases/${body.purchase_id}`).set(user.auth).expect(200)).body.status).toBe('expired');
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0 });
  });

  it('when the pack is unknown, then 404; when another user asks for a purchase, then 404', async () => {
    const [user, other] = await Promise.all([env.createUser(), env.createUser()]);
    expect((await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-1' }).expect(404)).body.error.code).toBe('not_found');
    await env.api.post('/api/v1/credits/checkout').set(user.auth).send({}).expect(422);
    const { body } = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201);
    await env.api.get(`/api/v1/credits/purchases/${body.purchase_id}`).set(other.auth).expect(404);
  });

  it('when `npm run stripe:complete -- --credits <purchase id>` runs against the API, then the purchase is paid at the pack price', async () => {
    const user = await env.createUser();
    const { body } = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201);
    const result = await stripeComplete(['--credits', body.purchase_id, '--api', env.baseUrl, '--secret', TEST_STRIPE_WEBHOOK_SECRET, '--api-key', user.apiKey], { log: () => undefined });
    expect(result.status).toBe(200);
    expect(result.event.data.object).toMatchObject({ client_reference_id: body.purchase_id, amount_total: 500, metadata: { kind: 'credit_pack', purchase_id: body.purchase_id } });
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0 });
  });
});

describe('charging jobs', () => {
  it('when an image job runs, then its maximum cost is held while it runs and the price per stored output is committed', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, { model: FLUX, prompt: 'three lighthouses', num_outputs: 3, parameters: { fake_latency_ms: 1000 } }).expect(202);
    expect(await balance(user)).toEqual({ credits: 94, reserved: 6 });
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job).toMatchObject({ status: 'succeeded', credits_spent: 6 });
    expect(job.outputs).toHaveLength(3);
    expect(await balance(user)).toEqual({ credits: 94, reserved: 0 });
    expect(await jobLedger(job.job_id)).toEqual({ reserve: 6, commit: 6, release: 0 });
  });

  it('when a per-run model runs, then it costs its price once', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, { model: 'meta/musicgen', prompt: 'a calm piano loop', parameters: { duration: 1 } }).expect(202);
    expect((await env.waitForJob(user, res.body.job_id)).credits_spent).toBe(5);
    expect(await balance(user)).toEqual({ credits: 95, reserved: 0 });
  });

  it('when a job fails, then everything it reserved is released', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, { model: FLUX, prompt: 'x', num_outputs: 2, parameters: { fake_error: 'CUDA out of memory' } }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job).toMatchObject({ status: 'failed', credits_spent: 0 });
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0 });
    expect(await jobLedger(job.job_id)).toEqual({ reserve: 4, release: 4 });
  });

  it('when a job is canceled, then everything it reserved is released', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user, { model: FLUX, prompt: 'slow', parameters: { fake_latency_ms: 30_000 } }).expect(202);
    await eventually(async () => (await env.db.job.findUnique({ where: { id: res.body.job_id } }))?.status === 'running');
    expect(await balance(user)).toEqual({ credits: 98, reserved: 2 });
    await env.api.delete(`/api/v1/jobs/${res.body.job_id}`).set(user.auth).expect(202);
    expect(await env.waitForJob(user, res.body.job_id)).toMatchObject({ status: 'canceled', credits_spent: 0 });
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0 });
  });

  it('when the credits do not cover the maximum cost, then 402 with what is needed and available, and no job or workflow', async () => {
    const user = await fundedUser(env, 3);
    const res = await generate(user, { model: FLUX, prompt: 'two please', num_outputs: 2 }).expect(402);
    expect(res.body.error).toEqual({ code: 'insufficient_credits', message: expect.stringContaining('credit pack'), details: { needed: 4, available: 3 } });
    const broke = await env.createUser();
    expect((await generate(broke, { model: FLUX, prompt: 'x' }).expect(402)).body.error.details).toEqual({ needed: 2, available: 0 });
    expect(await env.db.job.count({ where: { userId: { in: [user.id, broke.id] } } })).toBe(0);
    expect((await env.temporal.workflow.count(`UserId = "${user.id}"`)).count).toBe(0);
    expect(await balance(user)).toEqual({ credits: 3, reserved: 0 });
  });

  it('when jobs race for the last credits, then exactly as many as the credits cover are accepted and the balance never goes below zero', async () => {
    const user = await fundedUser(env, 9);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => generate(user, { model: FLUX, prompt: `race ${i}` })));
    const accepted = results.filter((r) => r.status === 202);
    expect(results.map((r) => r.status).sort()).toEqual([202, 202, 202, 202, 402, 402, 402, 402]);
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(4);
    await Promise.all(accepted.map((r) => env.waitForJob(user, r.body.job_id)));
    expect(await balance(user)).toEqual({ credits: 1, reserved: 0 });
    // Whatever the code did, the database itself refuses a negative balance.
    await expect(env.db.$executeRaw`UPDATE credit_balances SET credits = credits - 2 WHERE user_id = ${user.id}::uuid`).rejects.toThrow(/credit_balances_check/);
  });

  it('when an Idempotency-Key is replayed, then the job is reserved once', async () => {
    const user = await fundedUser(env, 100);
    const body = { model: FLUX, prompt: 'once', num_outputs: 2 };
    const [a, b] = await Promise.all([generate(user, body, { 'Idempotency-Key': 'pay-once' }), generate(user, body, { 'Idempotency-Key': 'pay-once' })]);
    const c = await generate(user, body, { 'Idempotency-Key': 'pay-once' }).expect(202);
    expect(new Set([a.body.job_id, b.body.job_id, c.body.job_id]).size).toBe(1);
    await env.waitForJob(user, a.body.job_id);
    expect(await jobLedger(a.body.job_id)).toEqual({ reserve: 4, commit: 4, release: 0 });
    expect(await env.db.creditLedger.count({ where: { userId: user.id, movement: 'reserve' } })).toBe(1);
    expect(await balance(user)).toEqual({ credits: 96, reserved: 0 });
  });

  it('when the workflow cannot be started, then 503, no job, and the reservation is released in the same request', async () => {
    const broken = await startTestEnv({ worker: false, env: { TEMPORAL_NAMESPACE: 'no-such-namespace' } });
    try {
      const user = await fundedUser(broken, 10);
      const res = await broken.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'x' }).expect(503);
      expect(res.body.error.code).toBe('service_unavailable');
      expect(await broken.db.job.count({ where: { userId: user.id } })).toBe(0);
      expect(await balance(user, broken)).toEqual({ credits: 10, reserved: 0 });
      // The ledger keeps the job id although the job row is gone: reserved, then released.
      const reserve = await broken.db.creditLedger.findFirstOrThrow({ where: { userId: user.id, movement: 'reserve' } });
      expect(await jobLedger(reserve.jobId!, broken)).toEqual({ reserve: 2, release: 2 });
    } finally {
      await broken.stop();
    }
  });
});

describe('usage history', () => {
  it('when a user reads their usage, then every job comes newest first with its model, status and credits spent, page by page', async () => {
    const user = await fundedUser(env, 100);
    const ok = (await generate(user, { model: FLUX, prompt: 'one', num_outputs: 2 }).expect(202)).body.job_id;
    const music = (await generate(user, { model: 'meta/musicgen', prompt: 'two', parameters: { duration: 1 } }).expect(202)).body.job_id;
    const failed = (await generate(user, { model: FLUX, prompt: 'three', parameters: { fake_error: 'boom' } }).expect(202)).body.job_id;
    await Promise.all([ok, music, failed].map((id) => env.waitForJob(user, id)));

    const first = await env.api.get('/api/v1/usage?limit=2').set(user.auth).expect(200);
    const second = await env.api.get(`/api/v1/usage?limit=2&cursor=${first.body.next_cursor}`).set(user.auth).expect(200);
    expect(second.body.next_cursor).toBeNull();
    expect([...first.body.items, ...second.body.items]).toEqual([
      { job_id: failed, model: FLUX, status: 'failed', credits_spent: 0, credits_reserved: 0, created_at: expect.any(String), completed_at: expect.any(String) },
      { job_id: music, model: 'meta/musicgen', status: 'succeeded', credits_spent: 5, credits_reserved: 0, created_at: expect.any(String), completed_at: expect.any(String) },
      { job_id: ok, model: FLUX, status: 'succeeded', credits_spent: 4, credits_reserved: 0, created_at: expect.any(String), completed_at: expect.any(String) },
    ]);
    expect(await balance(user)).toEqual({ credits: 91, reserved: 0 });
    await env.api.get('/api/v1/usage?limit=0').set(user.auth).expect(422);
    expect((await env.api.get('/api/v1/usage?cursor=bogus').set(user.auth).expect(400)).body.error.code).toBe('invalid_cursor');
  });
});
