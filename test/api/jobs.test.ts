import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';
import { parseServerTiming } from '../../src/http/server-timing';
import { signWebhookBody } from '../../src/provider/webhook-signature';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { binaryParser, eventually, sha256 } from '../helpers/http';

const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let alice: TestUser;
let bob: TestUser;

// Users get credits up front (test/api/credits.test.ts covers running out of them).
beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
  [alice, bob] = await Promise.all([fundedUser(env), fundedUser(env)]);
});
afterAll(() => env?.stop());
afterEach(() => env.replicate.setKnobs({ latency_ms: 50, failure_rate: 0, create_rate_limit_per_minute: 0, output_retention_ms: 3_600_000, duplicate_webhooks: false, webhooks_enabled: true }));

function submit(user: TestUser, body: object, headers: Record<string, string> = {}) {
  return env.api.post('/api/v1/generate').set(user.auth).set(headers).send(body);
}

describe('a generation job', () => {
  it('when it succeeds with 3 outputs, then their bytes come back from our bucket after the provider deleted its copies', async () => {
    // Long enough for the copies to finish on a loaded machine; the test then waits for the deletion.
    env.replicate.setKnobs({ output_retention_ms: 6000 });
    const res = await submit(alice, { model: MODEL, prompt: 'a lighthouse at dusk', num_outputs: 3, seed: 42, output_format: 'webp' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ job_id: expect.any(String), status: 'queued' });
    expect(res.headers.location).toBe(`/api/v1/status/${res.body.job_id}`);
    // Where the accept's time went: its one statement and its workflow start.
    expect(parseServerTiming(res.headers['server-timing'])).toEqual({ db: expect.any(Number), temporal: expect.any(Number) });

    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job).toMatchObject({ status: 'succeeded', model: MODEL, prompt: 'a lighthouse at dusk', num_outputs: 3, seed: 42, output_format: 'webp', error: null });
    expect(job.outputs).toHaveLength(3);
    expect(job.started_at).toEqual(expect.any(String));
    expect(job.completed_at).toEqual(expect.any(String));

    // The provider forgets its outputs (Replicate deletes them after an hour).
    const meta = await env.api.get(`/api/v1/jobs/${job.job_id}/metadata`).set(alice.auth).expect(200);
    const providerFile = `${env.replicate.url}/files/${meta.body.provider_prediction_id}/0.webp`;
    await eventually(async () => (await fetch(providerFile)).status === 404, 15_000, 100);

    for (const out of job.outputs) {
      expect(out).toMatchObject({ content_type: 'image/webp', width: expect.any(Number), height: expect.any(Number) });
      const download = await env.api.get(`/api/v1/download/${job.job_id}?index=${out.index}`).set(alice.auth).buffer(true).parse(binaryParser).expect(200);
      expect(download.headers['content-type']).toBe('image/webp');
      expect(sha256(download.body)).toBe(out.sha256);
      expect(download.body.length).toBe(out.size_bytes);
      const info = await sharp(download.body).metadata();
      expect([info.format, info.width, info.height]).toEqual(['webp', out.width, out.height]);

      const presigned = await fetch(out.url);
      expect(presigned.status).toBe(200);
      expect(sha256(Buffer.from(await presigned.arrayBuffer()))).toBe(out.sha256);
    }
    expect(new Set(job.outputs.map((o: { sha256: string }) => o.sha256)).size).toBe(3);

    const described = await env.temporal.workflow.getHandle(`job-${job.job_id}`).describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(described.taskQueue).toBe(env.config.temporal.taskQueue);
  });

  it('when the model fails, then the job fails with the provider message', async () => {
    const res = await submit(alice, { model: MODEL, prompt: 'x', parameters: { fake_error: 'CUDA out of memory' } }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job.status).toBe('failed');
    expect(job.error).toEqual({ code: 'prediction_failed', message: expect.stringContaining('CUDA out of memory') });
    expect(job.outputs).toEqual([]);
    // The workflow itself fails too, so operators see it in the Temporal UI: WorkflowFailedError → ApplicationFailure(prediction_failed).
    const failure = await env.temporal.workflow.getHandle(`job-${job.job_id}`).result().catch((e) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failure.cause).toBeInstanceOf(ApplicationFailure);
    expect(failure.cause.type).toBe('prediction_failed');
  });

  it('when the provider rejects the input, then the job fails fast without retries', async () => {
    // The input contract stops what the provider would reject; the local provider's own knob is checked only by the provider.
    const res = await submit(alice, { model: MODEL, prompt: 'x', parameters: { fake_latency_ms: -1 } }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job.status).toBe('failed');
    expect(job.error.code).toBe('provider_validation_failed');
    expect(job.error.message).toMatch(/fake_latency_ms/);
    expect(job.retry_count).toBe(0);
  });

  it('when the model is not in the catalog, then 422 unknown_model lists the valid names and no job is made', async () => {
    const res = await submit(alice, { model: 'nobody/no-such-model', prompt: 'x' }).expect(422);
    expect(res.body.error).toMatchObject({ code: 'unknown_model', message: expect.stringContaining('nobody/no-such-model') });
    expect(res.body.error.details).toEqual({ model: 'nobody/no-such-model', valid_models: expect.arrayContaining([MODEL, 'meta/musicgen', 'resemble-ai/resemble-enhance']) });
    expect(await env.db.job.count({ where: { userId: alice.id, model: 'nobody/no-such-model' } })).toBe(0);
  });

  it('when webhooks are delivered twice, then the job completes once with exactly its outputs', async () => {
    env.replicate.setKnobs({ duplicate_webhooks: true });
    const res = await submit(alice, { model: MODEL, prompt: 'twice', num_outputs: 2 }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(2);
    const meta = await env.api.get(`/api/v1/jobs/${job.job_id}/metadata`).set(alice.auth).expect(200);
    await eventually(async () => env.replicate.stats().webhooks_sent >= 2);
    expect(await env.db.jobOutput.count({ where: { jobId: job.job_id } })).toBe(2);
    expect(meta.body).toMatchObject({ provider: 'replicate', provider_prediction_id: expect.any(String), workflow_id: `job-${job.job_id}` });
  });
});

describe('cancel', () => {
  it('when a running job is canceled, then the workflow and the provider prediction are canceled', async () => {
    const res = await submit(alice, { model: MODEL, prompt: 'slow', parameters: { fake_latency_ms: 30_000 } }).expect(202);
    const jobId = res.body.job_id;
    await eventually(async () => (await env.db.job.findUnique({ where: { id: jobId } }))?.status === 'running');

    const cancel = await env.api.delete(`/api/v1/jobs/${jobId}`).set(alice.auth).expect(202);
    expect(cancel.body).toMatchObject({ job_id: jobId, cancel_requested: true });
    const job = await env.waitForJob(alice, jobId);
    expect(job.status).toBe('canceled');

    const row = await env.db.job.findUniqueOrThrow({ where: { id: jobId } });
    const prediction = await fetch(`${env.replicate.apiBaseUrl}/predictions/${row.providerPredictionId}`, { headers: { Authorization: 'Bearer t' } });
    expect(((await prediction.json()) as { status: string }).status).toBe('canceled');
    await eventually(async () => (await env.temporal.workflow.getHandle(`job-${jobId}`).describe()).status.name === 'CANCELLED');

    const again = await env.api.delete(`/api/v1/jobs/${jobId}`).set(alice.auth).expect(409);
    expect(again.body.error.code).toBe('job_already_finished');
  });

  it('when the job already succeeded, then cancel answers 409', async () => {
    const res = await submit(alice, { model: MODEL, prompt: 'fast' }).expect(202);
    await env.waitForJob(alice, res.body.job_id);
    const cancel = await env.api.delete(`/api/v1/jobs/${res.body.job_id}`).set(alice.auth).expect(409);
    expect(cancel.body.error).toMatchObject({ code: 'job_already_finished', message: expect.stringContaining('succeeded') });
  });
});

describe('idempotency', () => {
  it('when the same key and body are sent twice, then the same job is returned and only one runs', async () => {
    const body = { model: MODEL, prompt: 'once only' };
    const [a, b] = await Promise.all([
      submit(alice, body, { 'Idempotency-Key': 'order-17' }),
      submit(alice, body, { 'Idempotency-Key': 'order-17' }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.job_id).toBe(b.body.job_id);
    const later = await submit(alice, body, { 'Idempotency-Key': 'order-17' }).expect(202);
    expect(later.body.job_id).toBe(a.body.job_id);
    expect(later.headers['idempotent-replayed']).toBe('true');
    expect(await env.db.job.count({ where: { userId: alice.id, idempotencyKey: 'order-17' } })).toBe(1);
    await env.waitForJob(alice, a.body.job_id);
    expect(env.replicate.stats().predictions_created).toBeGreaterThan(0);
  });

  it('when the key is reused with another body, then 422 and nothing new starts', async () => {
    await submit(alice, { model: MODEL, prompt: 'first' }, { 'Idempotency-Key': 'k-2' }).expect(202);
    const res = await submit(alice, { model: MODEL, prompt: 'second' }, { 'Idempotency-Key': 'k-2' }).expect(422);
    expect(res.body.error.code).toBe('idempotency_key_reused');
    expect(await env.db.job.count({ where: { userId: alice.id, idempotencyKey: 'k-2' } })).toBe(1);
  });

  it('when two users use the same key, then they get separate jobs', async () => {
    const body = { model: MODEL, prompt: 'shared key' };
    const a = await submit(alice, body, { 'Idempotency-Key': 'same' }).expect(202);
    const b = await submit(bob, body, { 'Idempotency-Key': 'same' }).expect(202);
    expect(a.body.job_id).not.toBe(b.body.job_id);
  });
});

describe('auth and isolation', () => {
  let alicesJob: string;
  beforeAll(async () => {
    const res = await submit(alice, { model: MODEL, prompt: 'private' }).expect(202);
    alicesJob = res.body.job_id;
    await env.waitForJob(alice, alicesJob);
  });

  it('when the Authorization header is missing or wrong, then 401', async () => {
    const missing = await env.api.get('/api/v1/jobs').expect(401);
    expect(missing.body).toEqual({ error: { code: 'unauthorized', message: expect.stringContaining('Bearer') } });
    await env.api.get('/api/v1/jobs').set('Authorization', 'Bearer igk_not-a-real-key-but-long-enough-000000000000').expect(401);
    await env.api.get('/api/v1/jobs').set('Authorization', alice.apiKey).expect(401);
    await env.api.post('/api/v1/generate').send({ model: MODEL, prompt: 'x' }).expect(401);
  });

  it("when another user asks for a job, then it does not exist for them (404) on every route", async () => {
    for (const req of [
      env.api.get(`/api/v1/status/${alicesJob}`),
      env.api.get(`/api/v1/jobs/${alicesJob}/metadata`),
      env.api.get(`/api/v1/download/${alicesJob}?index=0`),
      env.api.delete(`/api/v1/jobs/${alicesJob}`),
    ]) {
      const res = await req.set(bob.auth).expect(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const list = await env.api.get('/api/v1/jobs').set(bob.auth).expect(200);
    expect(list.body.items.map((j: { job_id: string }) => j.job_id)).not.toContain(alicesJob);
  });

  it('when the job id is not a UUID or the output index does not exist, then 422 or 404', async () => {
    expect((await env.api.get('/api/v1/status/nope').set(alice.auth).expect(422)).body.error.code).toBe('validation_failed');
    await env.api.get(`/api/v1/download/${alicesJob}?index=7`).set(alice.auth).expect(404);
  });

  it('when an account is created twice for one email, then 409', async () => {
    const res = await env.api.post('/api/v1/users').send({ email: alice.email.toUpperCase() }).expect(409);
    expect(res.body.error.code).toBe('email_taken');
    expect((await env.api.post('/api/v1/users').send({ email: 'not-an-email' }).expect(422)).body.error.code).toBe('validation_failed');
  });

  it('stores API keys only as hashes', async () => {
    const rows = await env.db.apiKey.findMany({ where: { userId: alice.id } });
    expect(rows).toHaveLength(1);
    expect(rows[0]!.keyHash).not.toContain(alice.apiKey);
    expect(alice.apiKey.startsWith(rows[0]!.prefix)).toBe(true);
  });
});

describe('bad input', () => {
  it.each([
    ['an unknown field', { model: MODEL, prompt: 'x', colour: 'red' }],
    ['a wrong type', { model: MODEL, prompt: 42 }],
    ['an empty prompt', { model: MODEL, prompt: '' }],
    ['num_outputs 0', { model: MODEL, prompt: 'x', num_outputs: 0 }],
    ['num_outputs 50', { model: MODEL, prompt: 'x', num_outputs: 50 }],
    ['a huge prompt', { model: MODEL, prompt: 'x'.repeat(5000) }],
    ['a malformed model', { model: 'flux', prompt: 'x' }],
  ])('when the body has %s, then 422 with a clear message and no job or workflow', async (_what, body) => {
    const user = await env.createUser();
    const res = await submit(user, body).expect(422);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', message: expect.stringMatching(/^Invalid request body: /), details: { issues: expect.any(Array) } });
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);
    const started = await env.temporal.workflow.count(`UserId = "${user.id}"`);
    expect(started.count).toBe(0);
  });

  it('when the body is not JSON, then 400 invalid_json', async () => {
    const res = await env.api.post('/api/v1/generate').set(alice.auth).set('Content-Type', 'application/json').send('{"model": ').expect(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('when the body is larger than the limit, then 413', async () => {
    const res = await env.api.post('/api/v1/generate').set(alice.auth).set('Content-Type', 'application/json').send(JSON.stringify({ prompt: 'x'.repeat(200_000) })).expect(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('when a list query is invalid, then 422, and 400 invalid_cursor for a cursor this API did not give out', async () => {
    await env.api.get('/api/v1/jobs?limit=0').set(alice.auth).expect(422);
    await env.api.get('/api/v1/jobs?status=done').set(alice.auth).expect(422);
    const crafted = Buffer.from(`${new Date().toISOString()}|not-a-uuid`).toString('base64url');
    for (const cursor of ['bogus', crafted]) {
      const res = await env.api.get(`/api/v1/jobs?cursor=${cursor}`).set(alice.auth).expect(400);
      expect(res.body.error).toMatchObject({ code: 'invalid_cursor', details: { field: 'cursor' } });
    }
  });
});

describe('listing', () => {
  it('lists only the caller\'s jobs, newest first, page by page, filtered by status', async () => {
    const carol = await fundedUser(env);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await submit(carol, { model: MODEL, prompt: `p${i}` }).expect(202)).body.job_id);
    const failing = (await submit(carol, { model: MODEL, prompt: 'bad', parameters: { fake_error: 'nope' } }).expect(202)).body.job_id;
    await Promise.all([...ids, failing].map((id) => env.waitForJob(carol, id)));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await env.api.get(`/api/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`).set(carol.auth).expect(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.items.map((j: { job_id: string }) => j.job_id));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([failing, ...ids.slice().reverse()]);

    const failed = await env.api.get('/api/v1/jobs?status=failed').set(carol.auth).expect(200);
    expect(failed.body.items.map((j: { job_id: string }) => j.job_id)).toEqual([failing]);
    expect(failed.body.next_cursor).toBeNull();
  });
});

describe('Replicate webhook endpoint', () => {
  it('when the signature is bad, then 400 and nothing changes', async () => {
    const body = JSON.stringify({ id: 'p-forged', status: 'succeeded', output: ['http://evil/x.png'] });
    const ts = Math.floor(Date.now() / 1000);
    const forged = 'whsec_' + Buffer.from('not-the-secret-not-the-secret-00').toString('base64');
    const res = await env.api
      .post('/api/v1/webhooks/replicate')
      .set({ 'content-type': 'application/json', 'webhook-id': 'msg_forged', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signWebhookBody(forged, 'msg_forged', ts, body)}` })
      .send(body)
      .expect(400);
    expect(res.body.error.code).toBe('webhook_signature_invalid');
    await env.api.post('/api/v1/webhooks/replicate').set('content-type', 'application/json').send(body).expect(400);
    expect(await env.db.webhookEvent.count({ where: { id: 'replicate:msg_forged' } })).toBe(0);
  });

  it('when a correctly signed delivery repeats, then the second is acknowledged as a duplicate', async () => {
    const body = JSON.stringify({ id: 'p-unknown', status: 'succeeded', output: [] });
    const ts = Math.floor(Date.now() / 1000);
    const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_twice', 'webhook-timestamp': String(ts), 'webhook-signature': `v1,${signWebhookBody(env.replicate.webhookSecret, 'msg_twice', ts, body)}` };
    expect((await env.api.post('/api/v1/webhooks/replicate').set(headers).send(body).expect(200)).body).toEqual({ received: true });
    expect((await env.api.post('/api/v1/webhooks/replicate').set(headers).send(body).expect(200)).body).toEqual({ received: true, duplicate: true });
  });
});

describe('health', () => {
  it('reports liveness and per-component readiness', async () => {
    await env.api.get('/health').expect(200, { status: 'ok' });
    const ready = await env.api.get('/health/ready').expect(200);
    expect(ready.body.status).toBe('ready');
    expect(Object.keys(ready.body.components).sort()).toEqual(['postgres', 'provider', 's3', 'temporal']);
  });
});
