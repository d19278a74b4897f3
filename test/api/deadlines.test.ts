import { ledgerBalance } from '../../src/credits/ledger';
import { fundedUser, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Deadlines: `Cancel-After: <duration>` or a `deadline` field. A job not final by then is
 * canceled and its credits released; one whose provider run never started ends `aborted` and
 * costs nothing. Both show the deadline in GET and end their event stream with
 * `deadline_exceeded`.
 */
const FLUX = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 200 } });
  user = await fundedUser(env, 1000);
});
afterAll(() => env?.stop());

const generate = (body: object, headers: Record<string, string> = {}, as: TestUser = user) =>
  env.api.post('/api/v1/generate').set(as.auth).set(headers).send(body);

/** The job's event stream after it finished: every event, as `event:` and parsed `data:`. */
async function events(jobId: string): Promise<Array<{ event: string; data: any }>> {
  const res = await env.api.get(`/api/v1/jobs/${jobId}/events`).set(user.auth).buffer(true).parse((r, done) => {
    let text = '';
    r.on('data', (c: Buffer) => (text += c.toString()));
    r.on('end', () => done(null, text));
  });
  return String(res.body)
    .split('\n\n')
    .filter((block) => block.includes('event:'))
    .map((block) => ({ event: /event: (.*)/.exec(block)![1]!, data: JSON.parse(/data: (.*)/.exec(block)![1]!) }));
}

describe('a deadline on a running job', () => {
  it('when Cancel-After passes while the prediction runs, then the job is canceled at the provider with deadline_exceeded, its credits are released and GET and the event stream show it', async () => {
    const before = await ledgerBalance(env.db, user.id);
    const sent = Date.now();
    const res = await generate({ model: FLUX, prompt: 'too slow', num_outputs: 2, parameters: { fake_latency_ms: 30_000 } }, { 'Cancel-After': '2s' }).expect(202);
    const jobId = res.body.job_id as string;

    const running = (await env.api.get(`/api/v1/status/${jobId}`).set(user.auth).expect(200)).body;
    const deadline = Date.parse(running.deadline);
    expect(deadline).toBeGreaterThanOrEqual(sent + 2000);
    expect(deadline).toBeLessThanOrEqual(Date.now() + 2000);

    const job = await env.waitForJob(user, jobId);
    expect(job).toMatchObject({ status: 'canceled', credits_spent: 0, credits_reserved: 0, deadline: running.deadline, error: { code: 'deadline_exceeded' } });
    expect(await ledgerBalance(env.db, user.id)).toEqual(before);
    const row = await env.db.job.findUniqueOrThrow({ where: { id: jobId } });
    expect(row.providerPredictionId).not.toBeNull();
    await eventually(async () => (await providerStatus(row.providerPredictionId!)) === 'canceled');

    const stream = await events(jobId);
    expect(stream.filter((e) => e.event === 'status')).toEqual([{ event: 'status', data: { status: 'running', deadline: running.deadline } }]);
    const completed = stream.filter((e) => e.event === 'completed');
    expect(completed).toEqual([{ event: 'completed', data: expect.objectContaining({ status: 'canceled', error: expect.objectContaining({ code: 'deadline_exceeded' }), deadline: running.deadline }) }]);
  });

  it('when the job finishes before its deadline, then it succeeds and is charged as usual, its deadline shown', async () => {
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const res = await generate({ model: FLUX, prompt: 'quick', deadline }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job).toMatchObject({ status: 'succeeded', credits_spent: 2, deadline });
  });
});

describe('a deadline on a job that never started', () => {
  it('when the deadline passes while the provider refuses to start the run (rate limited), then the job ends aborted and costs nothing', async () => {
    const other = await fundedUser(env, 100);
    env.replicate.setKnobs({ create_rate_limit_per_minute: 1, rate_limit_window_ms: 120_000 });
    try {
      // The window's one create.
      const first = await generate({ model: FLUX, prompt: 'takes the only slot' }, {}, other).expect(202);
      expect((await env.waitForJob(other, first.body.job_id)).status).toBe('succeeded');
      const before = await ledgerBalance(env.db, other.id);
      const res = await generate({ model: FLUX, prompt: 'never starts', num_outputs: 3 }, { 'Cancel-After': '2s' }, other).expect(202);
      const job = await env.waitForJob(other, res.body.job_id);
      expect(job).toMatchObject({ status: 'aborted', credits_spent: 0, credits_reserved: 0, started_at: null, error: { code: 'deadline_exceeded' } });
      expect(await ledgerBalance(env.db, other.id)).toEqual(before);
      expect(await env.db.creditLedger.findMany({ where: { jobId: res.body.job_id }, select: { movement: true, credits: true }, orderBy: { movement: 'asc' } })).toEqual([
        { movement: 'reserve', credits: 6 },
        { movement: 'release', credits: 6 },
      ]);
      const row = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id } });
      expect(row.providerPredictionId).toBeNull();
      // Listed by its status.
      const listed = await env.api.get('/api/v1/jobs?status=aborted').set(other.auth).expect(200);
      expect(listed.body.items.map((j: { job_id: string }) => j.job_id)).toEqual([res.body.job_id]);
    } finally {
      env.replicate.setKnobs({ create_rate_limit_per_minute: null, rate_limit_window_ms: 60_000 });
    }
  });
});

describe('a deadline on a prompt', () => {
  it('when Cancel-After passes while the prompt runs, then it is canceled with deadline_exceeded, its images are released, and GET shows its deadline', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api
      .post(`/api/v1/prompts/create/${version.id}`)
      .set(user.auth)
      .set('Cancel-After', '2s')
      .send({ prompt: 'TOK too slow', num_outputs: 2, parameters: { fake_latency_ms: 30_000 } })
      .expect(202);
    const prompt = await eventually(async () => {
      const got = (await env.api.get(`/api/v1/prompts/${res.body.prompt_id}`).set(user.auth).expect(200)).body;
      return ['succeeded', 'failed', 'canceled', 'aborted'].includes(got.status) ? got : undefined;
    }, 30_000, 100);
    expect(prompt).toMatchObject({ status: 'canceled', error: { code: 'deadline_exceeded' }, images: [] });
    expect(Date.parse(prompt.deadline)).toBeGreaterThan(Date.parse(prompt.created_at));
    const info = (await env.api.get(`/api/v1/versions/info/${version.id}`).set(user.auth).expect(200)).body;
    expect(info).toMatchObject({ images_used: 0, images_reserved: 0 });
  });

  it('when a prompt finishes before its deadline field, then it succeeds as usual', async () => {
    const version = await trainedVersion(env.db, user.id);
    const deadline = new Date(Date.now() + 60_000).toISOString();
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).set('Prefer', 'wait=30').send({ prompt: 'TOK quick', deadline }).expect(201);
    expect(res.body).toMatchObject({ status: 'succeeded', deadline });
  });

  it('when a prompt has a junk Cancel-After, then 422 and no prompt is written', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).set('Cancel-After', 'later').send({ prompt: 'TOK' });
    expect([res.status, res.body.error.code]).toEqual([422, 'validation_failed']);
    expect(await env.db.prompt.count({ where: { versionId: version.id } })).toBe(0);
  });
});

describe('invalid deadlines', () => {
  it('when Cancel-After or deadline is junk, in the past, beyond 24 h or both are sent, then 422 validation_failed and nothing is reserved or written', async () => {
    const jobs = await env.db.job.count({ where: { userId: user.id } });
    const balance = await ledgerBalance(env.db, user.id);
    const cases: Array<[Record<string, string>, object]> = [
      [{ 'Cancel-After': 'soon' }, {}],
      [{ 'Cancel-After': '0s' }, {}],
      [{ 'Cancel-After': '25h' }, {}],
      [{ 'Cancel-After': '-5s' }, {}],
      [{}, { deadline: 'tomorrow' }],
      [{}, { deadline: new Date(Date.now() - 1000).toISOString() }],
      [{}, { deadline: new Date(Date.now() + 25 * 3600_000).toISOString() }],
      [{ 'Cancel-After': '5m' }, { deadline: new Date(Date.now() + 60_000).toISOString() }],
    ];
    for (const [headers, extra] of cases) {
      const res = await generate({ model: FLUX, prompt: 'junk deadline', ...extra }, headers);
      expect([JSON.stringify([headers, extra]), res.status, res.body.error?.code]).toEqual([JSON.stringify([headers, extra]), 422, 'validation_failed']);
    }
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(jobs);
    expect(await ledgerBalance(env.db, user.id)).toEqual(balance);
  });

  it('when Cancel-After is a compound duration or plain seconds, then it is accepted', async () => {
    for (const [value, ms] of [['1m30s', 90_000], ['120', 120_000], ['1h', 3_600_000]] as const) {
      const sent = Date.now();
      const res = await generate({ model: FLUX, prompt: `deadline ${value}` }, { 'Cancel-After': value }).expect(202);
      const row = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id } });
      expect(row.deadlineAt!.getTime() - sent).toBeGreaterThanOrEqual(ms - 5);
      expect(row.deadlineAt!.getTime() - Date.now()).toBeLessThanOrEqual(ms);
    }
  });
});

async function providerStatus(predictionId: string): Promise<string> {
  const res = await fetch(`${env.replicate.apiBaseUrl}/predictions/${predictionId}`, { headers: { Authorization: 'Bearer local' } });
  return ((await res.json()) as { status: string }).status;
}
