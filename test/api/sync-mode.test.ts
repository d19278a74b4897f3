import { fundedUser, trainedVersion } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Sync mode: `Prefer: wait[=N]` holds POST /generate and POST /prompts/create until the work is
 * final (201 with it) or N seconds passed (202 with it as it is, and Location). A held request
 * waits on the process's one event listener: it reads the events table once when it starts and
 * once per `completed` notification, never on a timer.
 */
const FLUX = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 300 } });
  user = await fundedUser(env, 1000);
});
afterAll(() => env?.stop());

const generate = (body: object, headers: Record<string, string> = {}) => env.api.post('/api/v1/generate').set(user.auth).set(headers).send(body);

describe('Prefer: wait on POST /api/v1/generate', () => {
  it('when the job finishes within the wait, then the answer is 201 with the finished job, its outputs, Location and Preference-Applied', async () => {
    const res = await generate({ model: FLUX, prompt: 'a held lighthouse', num_outputs: 2 }, { Prefer: 'wait' });
    expect(res.status).toBe(201);
    expect(res.headers['preference-applied']).toBe('wait=60');
    expect(res.headers.location).toBe(`/api/v1/status/${res.body.job_id}`);
    expect(res.body).toMatchObject({ status: 'succeeded', credits_spent: 4, credits_reserved: 0, error: null, deadline: null });
    expect(res.body.outputs).toHaveLength(2);
    // The same as its GET.
    const { queue: _queue, ...got } = (await env.api.get(`/api/v1/status/${res.body.job_id}`).set(user.auth).expect(200)).body;
    expect(got).toEqual(res.body);
  });

  it('when the job is still running when the wait ends, then the answer is 202 with the running job and Location, never an error; a retry with the same Idempotency-Key returns the same job, finished', async () => {
    const body = { model: FLUX, prompt: 'a slow kite', parameters: { fake_latency_ms: 4000 } };
    const first = await generate(body, { Prefer: 'wait=1', 'Idempotency-Key': 'held-kite' });
    expect(first.status).toBe(202);
    expect(first.headers['preference-applied']).toBe('wait=1');
    expect(first.headers.location).toBe(`/api/v1/status/${first.body.job_id}`);
    expect(['queued', 'running']).toContain(first.body.status);
    expect(first.body).toMatchObject({ credits_spent: null, credits_reserved: 2, outputs: [] });

    const again = await generate(body, { Prefer: 'wait=30', 'Idempotency-Key': 'held-kite' });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body).toMatchObject({ job_id: first.body.job_id, status: 'succeeded', credits_spent: 2 });
    expect(await env.db.job.count({ where: { userId: user.id, idempotencyKey: 'held-kite' } })).toBe(1);
  });

  it('when a job fails within the wait, then it is final too: 201 with its error', async () => {
    const res = await generate({ model: FLUX, prompt: 'doomed', parameters: { fake_error: 'CUDA out of memory' } }, { Prefer: 'wait=30' });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'failed', credits_spent: 0, error: { code: 'prediction_failed' } });
  });

  it('when a request is held, then it reads the events table only when the listener says the job completed, not on a timer', async () => {
    // Warm up: the listener connects on its first subscriber.
    expect((await generate({ model: FLUX, prompt: 'warm-up' }, { Prefer: 'wait=30' })).status).toBe(201);
    const before = env.queries.length;
    const res = await generate({ model: FLUX, prompt: 'watched', parameters: { fake_latency_ms: 3000 } }, { Prefer: 'wait=30' });
    expect(res.status).toBe(201);
    const eventReads = env.queries.slice(before).filter((q) => /^\s*SELECT[\s\S]*"resource_events"/i.test(q));
    // One read when the wait starts, one per `completed` notification (a missed-notification read at most once more).
    expect(eventReads.length).toBeGreaterThanOrEqual(1);
    expect(eventReads.length).toBeLessThanOrEqual(3);
  });

  it('when Prefer is absent or has no wait, then the answer is the usual 202 {job_id, status} at once', async () => {
    for (const headers of [{}, { Prefer: 'respond-async' }] as Record<string, string>[]) {
      const res = await generate({ model: FLUX, prompt: 'not held' }, headers);
      expect(res.status).toBe(202);
      expect(res.body).toEqual({ job_id: res.body.job_id, status: 'queued' });
      expect(res.headers['preference-applied']).toBeUndefined();
    }
  });

  it('when wait is not 1 to 60 seconds, then the answer is 422 validation_failed naming Prefer, and nothing is reserved or written', async () => {
    const jobs = await env.db.job.count({ where: { userId: user.id } });
    const balance = (await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body;
    for (const prefer of ['wait=0', 'wait=61', 'wait=abc', 'wait=-1', 'wait=1.5']) {
      const res = await generate({ model: FLUX, prompt: 'junk' }, { Prefer: prefer });
      expect([prefer, res.status, res.body.error.code]).toEqual([prefer, 422, 'validation_failed']);
      expect(res.body.error.details.issues).toEqual([expect.objectContaining({ field: 'Prefer' })]);
    }
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(jobs);
    expect((await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body).toEqual(balance);
  });
});

describe('Prefer: wait on POST /api/v1/prompts/create/{version_id}', () => {
  it('when the prompt finishes within the wait, then the answer is 201 with the prompt and its images', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).set('Prefer', 'wait=30').send({ prompt: 'TOK held', num_outputs: 2 });
    expect(res.status).toBe(201);
    expect(res.headers['preference-applied']).toBe('wait=30');
    expect(res.headers.location).toBe(`/api/v1/prompts/${res.body.prompt_id}`);
    expect(res.body).toMatchObject({ status: 'succeeded', version_id: version.id });
    expect(res.body.images).toHaveLength(2);
  });

  it('when the prompt is still running when the wait ends, then the answer is 202 with the prompt as it is', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api
      .post(`/api/v1/prompts/create/${version.id}`)
      .set(user.auth)
      .set('Prefer', 'wait=1')
      .send({ prompt: 'TOK slow', parameters: { fake_latency_ms: 3000 } });
    expect(res.status).toBe(202);
    expect(res.headers.location).toBe(`/api/v1/prompts/${res.body.prompt_id}`);
    expect(['queued', 'running']).toContain(res.body.status);
    expect(res.body.images).toEqual([]);
  });

  it('when wait is junk, then 422 and no prompt is written', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).set('Prefer', 'wait=600').send({ prompt: 'TOK' });
    expect([res.status, res.body.error.code]).toEqual([422, 'validation_failed']);
    expect(await env.db.prompt.count({ where: { versionId: version.id } })).toBe(0);
  });
});
