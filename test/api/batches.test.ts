import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { startReceiver } from '../events/webhook-receiver';

/**
 * Batches: up to 100 job bodies in one request, each item an ordinary job created exactly once
 * (its own key `batch:<id>:<index>`), refusals reported per item, one `completed` event and one
 * webhook when every item is final, and a cancel of what has not finished.
 */
const FLUX = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let user: TestUser;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 200 } });
  user = await fundedUser(env, 1000);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const send = (body: object, headers: Record<string, string> = {}, as: TestUser = user) => env.api.post('/api/v1/batches').set(as.auth).set(headers).send(body);
const item = (prompt: string, extra: object = {}) => ({ model: FLUX, prompt, ...extra });

async function waitForBatch(batchId: string, as: TestUser = user, timeoutMs = 60_000): Promise<Record<string, any>> {
  return eventually(async () => {
    const res = await env.api.get(`/api/v1/batches/${batchId}`).set(as.auth).expect(200);
    return res.body.status === 'completed' ? res.body : undefined;
  }, timeoutMs, 100);
}

describe('POST /api/v1/batches', () => {
  it('when a batch is sent twice with the same Idempotency-Key, then both answers are the same batch and each item became exactly one job', async () => {
    const body = { jobs: [item('one'), item('two', { num_outputs: 2 }), item('three')] };
    const first = await send(body, { 'Idempotency-Key': 'batch-twice' });
    expect(first.status).toBe(202);
    expect(first.headers.location).toBe(`/api/v1/batches/${first.body.batch_id}`);
    expect(first.body).toMatchObject({ kind: 'job', size: 3, counts: { created: 3, rejected: 0 } });
    expect(first.body.items.map((i: any) => i.index)).toEqual([0, 1, 2]);
    expect(first.body.items.every((i: any) => typeof i.job_id === 'string' && i.error === null)).toBe(true);

    const again = await send(body, { 'Idempotency-Key': 'batch-twice' });
    expect(again.status).toBe(202);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.batch_id).toBe(first.body.batch_id);
    expect(again.body.items.map((i: any) => i.job_id)).toEqual(first.body.items.map((i: any) => i.job_id));
    expect(await env.db.job.count({ where: { batchId: first.body.batch_id } })).toBe(3);
    expect(await env.db.batch.count({ where: { userId: user.id, idempotencyKey: 'batch-twice' } })).toBe(1);

    // The items are ordinary jobs: their own GET, their own credits.
    const done = await waitForBatch(first.body.batch_id);
    expect(done.counts).toMatchObject({ succeeded: 3, final: 3 });
    const job = await env.api.get(`/api/v1/status/${done.items[1].job_id}`).set(user.auth).expect(200);
    expect(job.body).toMatchObject({ status: 'succeeded', credits_spent: 4 });
  });

  it('when the same Idempotency-Key comes with another body, then the answer is 422 idempotency_key_reused and no job is made', async () => {
    await send({ jobs: [item('first body')] }, { 'Idempotency-Key': 'batch-reused' }).expect(202);
    const jobs = await env.db.job.count({ where: { userId: user.id } });
    const res = await send({ jobs: [item('another body')] }, { 'Idempotency-Key': 'batch-reused' });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(jobs);
  });

  it('when some items are refused, then the batch is still 202, each refused item carries its own error and status, and the others run', async () => {
    const res = await send({ jobs: [item('fine'), item('too dear', { max_credits: 0 }), { model: 'nobody/nothing', prompt: 'x' }, item('also fine')] });
    expect(res.status).toBe(202);
    expect(res.body.counts).toMatchObject({ created: 2, rejected: 2 });
    expect(res.body.items[1]).toMatchObject({ index: 1, job_id: null, status: 'rejected', error: { code: 'max_credits_exceeded', http_status: 402 } });
    expect(res.body.items[2]).toMatchObject({ index: 2, job_id: null, status: 'rejected', error: { code: 'unknown_model', http_status: 422 } });
    const done = await waitForBatch(res.body.batch_id);
    expect(done.counts).toMatchObject({ succeeded: 2, rejected: 2, final: 2 });
    expect(done.items[1].status).toBe('rejected');
  });

  it('when every item is refused, then the batch is completed at once', async () => {
    const res = await send({ jobs: [item('no', { max_credits: 0 })] });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'completed', counts: { created: 0, rejected: 1 } });
  });

  it('when the account hits its active-jobs cap, then the items past it are refused with 429 too_many_active_jobs and no lane lets them through', async () => {
    const capped = await startTestEnv({ knobs: { latency_ms: 200 }, env: { MAX_ACTIVE_JOBS_PER_ACCOUNT: '2' } });
    try {
      const someone = await fundedUser(capped, 100);
      const res = await capped.api.post('/api/v1/batches').set(someone.auth).send({ jobs: [1, 2, 3, 4].map((n) => item(`slow ${n}`, { parameters: { fake_latency_ms: 3000 } })) });
      expect(res.status).toBe(202);
      expect(res.body.counts).toMatchObject({ created: 2, rejected: 2 });
      expect(res.body.items.filter((i: any) => i.status === 'rejected').map((i: any) => i.error.code)).toEqual(['too_many_active_jobs', 'too_many_active_jobs']);
      expect(res.body.items.filter((i: any) => i.status === 'rejected')[0].error.http_status).toBe(429);
      await capped.api.delete(`/api/v1/batches/${res.body.batch_id}`).set(someone.auth).expect(202);
    } finally {
      await capped.stop();
    }
  });

  it('when the body has more than 100 items or none, then the answer is 422 and no batch or job is written', async () => {
    const before = { batches: await env.db.batch.count(), jobs: await env.db.job.count() };
    for (const jobs of [Array.from({ length: 101 }, (_, i) => item(`n${i}`)), []]) {
      const res = await send({ jobs });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect({ batches: await env.db.batch.count(), jobs: await env.db.job.count() }).toEqual(before);
  });

  it("when another account asks for a batch, then it is 404 for them", async () => {
    const res = await send({ jobs: [item('mine')] }).expect(202);
    const other = await env.createUser();
    await env.api.get(`/api/v1/batches/${res.body.batch_id}`).set(other.auth).expect(404);
    await env.api.delete(`/api/v1/batches/${res.body.batch_id}`).set(other.auth).expect(404);
  });
});

describe('batch completion', () => {
  it('when every item is final, then the batch records one completed event and its webhook receives the batch once', async () => {
    const res = await send({ jobs: [item('a'), item('b'), item('c', { parameters: { fake_error: 'CUDA out of memory' } })], webhook: receiver.url('/batch-done') });
    expect(res.status).toBe(202);
    const batchId = res.body.batch_id;
    const done = await waitForBatch(batchId);
    expect(done.counts).toMatchObject({ succeeded: 2, failed: 1, final: 3 });
    expect(done.items[2].error).toMatchObject({ code: 'prediction_failed' });

    const got = await eventually(async () => (receiver.at('/batch-done').length > 0 ? receiver.at('/batch-done') : undefined), 30_000, 100);
    expect(got[0]!.json).toMatchObject({ batch_id: batchId, status: 'completed', counts: { succeeded: 2, failed: 1 } });
    await env.temporal.workflow.getHandle(`webhooks-batch-${batchId}`).result();
    expect(receiver.at('/batch-done')).toHaveLength(1);
    const events = await env.db.resourceEvent.findMany({ where: { resourceType: 'batch', resourceId: batchId } });
    expect(events.map((e) => e.type)).toEqual(['completed']);
    // The deliveries list shows it under batch:<id>.
    const deliveries = await env.api.get(`/api/v1/webhooks/deliveries?resource=batch:${batchId}`).set(user.auth).expect(200);
    expect(deliveries.body.items).toEqual([expect.objectContaining({ event: 'completed', status_code: 200 })]);
  });
});

describe('DELETE /api/v1/batches/{batch_id}', () => {
  it('when items are still running, then they are canceled, their credits come back, the batch completes, and a second cancel is 409 batch_already_finished', async () => {
    const res = await send({ jobs: [item('slow 1', { parameters: { fake_latency_ms: 20_000 } }), item('slow 2', { parameters: { fake_latency_ms: 20_000 } })] });
    expect(res.status).toBe(202);
    const cancel = await env.api.delete(`/api/v1/batches/${res.body.batch_id}`).set(user.auth);
    expect(cancel.status).toBe(202);
    expect(cancel.body).toEqual({ batch_id: res.body.batch_id, cancel_requested: 2 });
    const done = await waitForBatch(res.body.batch_id);
    expect(done.counts).toMatchObject({ canceled: 2, final: 2 });
    expect(done.items.map((i: any) => i.credits_spent)).toEqual([0, 0]);
    const job = await env.api.get(`/api/v1/status/${done.items[0].job_id}`).set(user.auth).expect(200);
    expect(job.body).toMatchObject({ status: 'canceled', credits_reserved: 0 });

    const again = await env.api.delete(`/api/v1/batches/${res.body.batch_id}`).set(user.auth);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('batch_already_finished');
  });
});
