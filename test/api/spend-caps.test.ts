import { randomUUID } from 'node:crypto';
import { ledgerBalance, settleCredits } from '../../src/credits/ledger';
import { insertJobReserving, type NewJob } from '../../src/jobs/rows';
import { workflowIds } from '../../src/temporal/names';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Spend caps: `max_credits` on a job refuses a higher price before anything is reserved, and an
 * API key's optional monthly credit budget is enforced in the statement that reserves the
 * credits, exactly under concurrency, with the month's spend on the key's listing.
 */
const FLUX = 'black-forest-labs/flux-schnell'; // 2 credits per output
const SDXL = 'stability-ai/sdxl';

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 100 } });
});
afterAll(() => env?.stop());

const generate = (auth: Record<string, string>, body: object) => env.api.post('/api/v1/generate').set(auth).send(body);
const bearer = (key: string) => ({ Authorization: `Bearer ${key}` });

/** What the ledger says the key's jobs accepted this month hold or cost: reserve minus release per job. */
async function ledgerSpendOfKey(keyId: string): Promise<number> {
  const rows = await env.db.$queryRaw<{ spent: number }[]>`
    SELECT COALESCE(sum(CASE l.movement WHEN 'reserve' THEN l.credits WHEN 'release' THEN -l.credits ELSE 0 END), 0)::int AS spent
      FROM credit_ledger l JOIN jobs j ON j.id = l.job_id
     WHERE j.api_key_id = ${keyId}::uuid AND date_trunc('month', j.created_at AT TIME ZONE 'UTC') = date_trunc('month', now() AT TIME ZONE 'UTC')`;
  return rows[0]!.spent;
}

async function listedKey(user: TestUser, keyId: string) {
  const res = await env.api.get('/api/v1/keys').set(user.auth).expect(200);
  return res.body.items.find((k: { id: string }) => k.id === keyId);
}

describe('max_credits', () => {
  it('when the price is above max_credits, then 402 max_credits_exceeded with the quote in details, and nothing is reserved or written', async () => {
    const user = await fundedUser(env, 100);
    const before = await ledgerBalance(env.db, user.id);
    const body = { model: SDXL, prompt: 'wide', num_outputs: 2, parameters: { width: 1536, height: 1024 }, max_credits: 11 };
    const res = await generate(user.auth, body).expect(402);
    const quote = await env.api.post('/api/v1/quote').set(user.auth).send({ kind: 'job', ...body }).expect(200);
    expect(res.body.error).toMatchObject({ code: 'max_credits_exceeded', details: { max_credits: 11, needed: 12, quote: { ...quote.body, kind: 'job', credits: 12 } } });
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);
    expect(await ledgerBalance(env.db, user.id)).toEqual(before);
  });

  it('when the price is at most max_credits, then the job is accepted and reserves its price', async () => {
    const user = await fundedUser(env, 100);
    const res = await generate(user.auth, { model: FLUX, prompt: 'fits', num_outputs: 3, max_credits: 6 }).expect(202);
    expect((await env.waitForJob(user, res.body.job_id)).credits_spent).toBe(6);
  });

  it('when max_credits is junk, then 422', async () => {
    const user = await fundedUser(env, 100);
    for (const max of [-1, 1.5, 'ten', null]) {
      const res = await generate(user.auth, { model: FLUX, prompt: 'junk', max_credits: max });
      expect([max, res.status, res.body.error.code]).toEqual([max, 422, 'validation_failed']);
    }
  });
});

describe("an API key's monthly credit budget", () => {
  it('when a key has a budget, then its jobs are accepted until the next would pass it: 402 key_budget_exceeded with budget, spent_this_month and needed, and nothing reserved', async () => {
    const user = await fundedUser(env, 1000);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'capped', monthly_credit_budget: 10 }).expect(201);
    expect(created.body.monthly_credit_budget).toBe(10);
    const auth = bearer(created.body.api_key);

    const first = await generate(auth, { model: FLUX, prompt: 'eight', num_outputs: 4 }).expect(202);
    expect(await listedKey(user, created.body.id)).toMatchObject({ monthly_credit_budget: 10, credits_spent_this_month: 8 });

    const before = await ledgerBalance(env.db, user.id);
    const refused = await generate(auth, { model: FLUX, prompt: 'four more', num_outputs: 2 }).expect(402);
    expect(refused.body.error).toMatchObject({ code: 'key_budget_exceeded', details: { budget: 10, spent_this_month: 8, needed: 4 } });
    expect(await ledgerBalance(env.db, user.id)).toEqual(before);
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(1);

    // Within the budget, and the account's other keys are not capped.
    await generate(auth, { model: FLUX, prompt: 'two', num_outputs: 1 }).expect(202);
    await generate(user.auth, { model: FLUX, prompt: 'the default key', num_outputs: 4 }).expect(202);
    await env.waitForJob(user, first.body.job_id);
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(10);
    expect(await ledgerSpendOfKey(created.body.id)).toBe(10);
  });

  it('when a job fails or is canceled, then what it released no longer counts in the month', async () => {
    const user = await fundedUser(env, 1000);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'refunds', monthly_credit_budget: 8 }).expect(201);
    const auth = bearer(created.body.api_key);
    const failed = await generate(auth, { model: FLUX, prompt: 'fails', num_outputs: 4, parameters: { fake_error: 'CUDA out of memory' } }).expect(202);
    expect((await env.waitForJob(user, failed.body.job_id)).status).toBe('failed');
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(0);

    const slow = await generate(auth, { model: FLUX, prompt: 'canceled', num_outputs: 4, parameters: { fake_latency_ms: 30_000 } }).expect(202);
    await env.api.delete(`/api/v1/jobs/${slow.body.job_id}`).set(auth).expect(202);
    expect((await env.waitForJob(user, slow.body.job_id)).status).toBe('canceled');
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(0);

    const ok = await generate(auth, { model: FLUX, prompt: 'fits again', num_outputs: 4 }).expect(202);
    await env.waitForJob(user, ok.body.job_id);
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(8);
    expect(await ledgerSpendOfKey(created.body.id)).toBe(8);
  });

  it('when many jobs of one key race for its budget, then exactly as many as the budget covers are accepted', async () => {
    const user = await fundedUser(env, 1000);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'racing', monthly_credit_budget: 10 }).expect(201);
    const auth = bearer(created.body.api_key);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(auth, { model: FLUX, prompt: `race ${i}`, parameters: { fake_latency_ms: 5000 } })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([...Array(5).fill(202), ...Array(7).fill(402)]);
    expect(answers.filter((a) => a.status === 402).every((a) => a.body.error.code === 'key_budget_exceeded')).toBe(true);
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(10);
    expect(await ledgerSpendOfKey(created.body.id)).toBe(10);
  });

  it('when jobs of a key with room in its budget race for the last credits of the account, then the key counts exactly the accepted ones', async () => {
    const user = await fundedUser(env, 10);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'roomy', monthly_credit_budget: 100 }).expect(201);
    const auth = bearer(created.body.api_key);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => generate(auth, { model: FLUX, prompt: `last credits ${i}`, parameters: { fake_latency_ms: 5000 } })));
    expect(answers.map((a) => a.status).sort()).toEqual([...Array(5).fill(202), ...Array(7).fill(402)]);
    expect(answers.filter((a) => a.status === 402).every((a) => a.body.error.code === 'insufficient_credits')).toBe(true);
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(10);
    expect(await ledgerSpendOfKey(created.body.id)).toBe(10);
  });

  it('when jobs of a key settle while new jobs of the same key are accepted, then every statement succeeds (both lock the key, then the balance) and the counters are exact', async () => {
    const user = await fundedUser(env, 1000);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'busy', monthly_credit_budget: 900 }).expect(201);
    const keyId: string = created.body.id;
    // Straight to the ledger, many at once: the window between a settle's two updates is a
    // round trip, and an accept that locked the rows in the other order would deadlock in it.
    const accept = (id: string) =>
      insertJobReserving(env.db, newJob(user.id, keyId, id), { userId: user.id, jobId: id, credits: 2, maxActive: 1000, apiKeyId: keyId });
    const first = Array.from({ length: 40 }, () => randomUUID());
    for (const id of first) expect(await accept(id)).toEqual({ reserved: true });

    const second = Array.from({ length: 40 }, () => randomUUID());
    const results = await Promise.allSettled(
      first.flatMap((id, i) => [env.db.$transaction((tx) => settleCredits(tx, { jobId: id, used: 0 })), accept(second[i]!)]),
    );
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const balance = await env.db.creditBalance.findUniqueOrThrow({ where: { userId: user.id } });
    expect(balance).toMatchObject({ credits: 1000 - 80, reserved: 80, activeJobs: 40 });
    expect((await listedKey(user, keyId)).credits_spent_this_month).toBe(80);
    expect(await ledgerSpendOfKey(keyId)).toBe(80);
  });

  it('when the budget is raised, removed or set on a key without one (PATCH), then the next job follows the new budget; another account’s key is a 404', async () => {
    const user = await fundedUser(env, 1000);
    const keyId = (await env.api.get('/api/v1/keys').set(user.auth).expect(200)).body.items[0].id as string;
    expect(await listedKey(user, keyId)).toMatchObject({ monthly_credit_budget: null, credits_spent_this_month: 0 });
    await generate(user.auth, { model: FLUX, prompt: 'before any budget', num_outputs: 2 }).expect(202);

    const set = await env.api.patch(`/api/v1/keys/${keyId}`).set(user.auth).send({ monthly_credit_budget: 5 }).expect(200);
    expect(set.body).toMatchObject({ id: keyId, monthly_credit_budget: 5, credits_spent_this_month: 4 });
    const refused = await generate(user.auth, { model: FLUX, prompt: 'over', num_outputs: 1 }).expect(402);
    expect(refused.body.error.details).toEqual({ budget: 5, spent_this_month: 4, needed: 2 });

    await env.api.patch(`/api/v1/keys/${keyId}`).set(user.auth).send({ monthly_credit_budget: 6 }).expect(200);
    await generate(user.auth, { model: FLUX, prompt: 'raised', num_outputs: 1 }).expect(202);
    await env.api.patch(`/api/v1/keys/${keyId}`).set(user.auth).send({ monthly_credit_budget: null }).expect(200);
    await generate(user.auth, { model: FLUX, prompt: 'no cap', num_outputs: 4 }).expect(202);
    expect(await listedKey(user, keyId)).toMatchObject({ monthly_credit_budget: null, credits_spent_this_month: 14 });

    const stranger = await fundedUser(env, 10);
    expect((await env.api.patch(`/api/v1/keys/${keyId}`).set(stranger.auth).send({ monthly_credit_budget: 1 })).status).toBe(404);
    for (const junk of [{}, { monthly_credit_budget: -1 }, { monthly_credit_budget: 'lots' }, { monthly_credit_budget: 5, name: 'x' }]) {
      expect((await env.api.patch(`/api/v1/keys/${keyId}`).set(user.auth).send(junk)).status).toBe(422);
    }
  });

  it('when the month changes, then the key’s spend starts again at 0 (a job of last month settling changes nothing)', async () => {
    const user = await fundedUser(env, 1000);
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'monthly', monthly_credit_budget: 4 }).expect(201);
    const auth = bearer(created.body.api_key);
    const old = await generate(auth, { model: FLUX, prompt: 'last month', num_outputs: 2, parameters: { fake_latency_ms: 30_000 } }).expect(202);
    // As if that job had been accepted last month: the key counts last month.
    await env.db.$executeRaw`UPDATE api_keys SET spend_month = (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date WHERE id = ${created.body.id}::uuid`;
    await env.db.$executeRaw`UPDATE jobs SET created_at = created_at - interval '40 days' WHERE id = ${old.body.job_id}::uuid`;
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(0);

    const now = await generate(auth, { model: FLUX, prompt: 'this month', num_outputs: 2 }).expect(202);
    await env.api.delete(`/api/v1/jobs/${old.body.job_id}`).set(auth).expect(202);
    await env.waitForJob(user, old.body.job_id);
    await env.waitForJob(user, now.body.job_id);
    expect((await listedKey(user, created.body.id)).credits_spent_this_month).toBe(4);
  });
});

/** A queued job's row as the accept statement writes it (no workflow: these tests drive the ledger alone). */
function newJob(userId: string, apiKeyId: string, id: string): NewJob {
  return {
    id,
    userId,
    status: 'queued',
    model: FLUX,
    prompt: 'ledger only',
    numOutputs: 1,
    seed: null,
    outputFormat: 'png',
    parameters: {},
    priceUnit: 'output',
    priceCredits: 2,
    inputUploadId: null,
    webhook: null,
    webhookEventsFilter: [],
    idempotencyKey: null,
    requestHash: 'ledger-only',
    requestId: null,
    workflowId: workflowIds.generationJob(id),
    deadlineAt: null,
    apiKeyId,
    retentionSeconds: null,
    batchId: null,
    batchIndex: null,
  };
}
