import { randomUUID } from 'node:crypto';
import { ledgerBalance } from '../../src/credits/ledger';
import { getOwnJob } from '../../src/jobs/rows';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * What the hot paths cost the database. Accepting a job (POST /generate) is one SQL statement
 * (the credit reservation, its ledger row and the job row together) and one workflow start, never
 * an interactive transaction holding a pool connection across round trips. Reading a job (GET
 * /status) is one statement, and its output URLs come from the presign cache; a finished job's
 * answer is kept for a few seconds, so polling it costs no statement at all. The worker is off,
 * so every statement recorded here is the API's.
 */
const FLUX = 'black-forest-labs/flux-schnell';
/** The API-key check (its own cache; counted apart, as bench row B6 does). */
const AUTH_QUERY = /"public"\."(api_keys|users)"/;

let env: TestEnv;
let user: TestUser;
/** Workflows started here (no worker runs them): terminated at the end. */
const started: string[] = [];

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  user = await fundedUser(env, 100);
});
afterAll(async () => {
  await Promise.all(started.map((id) => env.temporal.workflow.getHandle(id).terminate('test over').catch(() => undefined)));
  await env?.stop();
});

async function generate(body: object, headers: Record<string, string> = {}, as: TestUser = user) {
  const res = await env.api.post('/api/v1/generate').set(as.auth).set(headers).send(body);
  if (res.status === 202) started.push(`job-${res.body.job_id}`);
  return res;
}

/** The statements the API sent while `request` ran, less the API-key check. */
async function statementsOf(request: () => Promise<unknown>): Promise<string[]> {
  const before = env.queries.length;
  await request();
  return env.queries.slice(before).filter((q) => !AUTH_QUERY.test(q));
}

describe('accepting a job', () => {
  it('when a job is accepted, with or without an Idempotency-Key, then the API sends exactly one SQL statement and no BEGIN or COMMIT', async () => {
    expect((await generate({ model: FLUX, prompt: 'warm-up' })).status).toBe(202); // the catalog and API-key caches
    for (const headers of [{}, { 'Idempotency-Key': 'one-statement' }] as Record<string, string>[]) {
      const seen = await statementsOf(async () => expect((await generate({ model: FLUX, prompt: 'counted' }, headers)).status).toBe(202));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/UPDATE credit_balances[\s\S]*INSERT INTO credit_ledger[\s\S]*INSERT INTO jobs/);
    }
  });

  it('when a transaction is used, then the recorded statements show its COMMIT (so a transaction could not hide above)', async () => {
    const seen = await statementsOf(() => env.db.$transaction(async (tx) => tx.$queryRaw`SELECT 1`));
    expect(seen.map((q) => q.trim().split(/\s+/)[0]!.toUpperCase())).toEqual(['SELECT', 'COMMIT']);
  });

  it('when a job is accepted, then its row, its reserve ledger row, the balance and its workflow are exactly what the request asked for', async () => {
    const body = {
      model: FLUX,
      prompt: 'a lighthouse',
      num_outputs: 3,
      seed: 7,
      output_format: 'webp',
      parameters: { aspect_ratio: '16:9' },
      webhook: 'http://127.0.0.1:9/hook',
      webhook_events_filter: ['completed', 'start'],
    };
    const before = await ledgerBalance(env.db, user.id);
    const res = await generate(body, { 'Idempotency-Key': 'exact-row' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ job_id: res.body.job_id, status: 'queued' });

    const job = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id } });
    expect(job).toMatchObject({
      userId: user.id,
      status: 'queued',
      model: FLUX,
      prompt: 'a lighthouse',
      numOutputs: 3,
      seed: 7,
      outputFormat: 'webp',
      parameters: { aspect_ratio: '16:9', disable_safety_checker: false },
      priceUnit: 'output',
      priceCredits: 2,
      inputUploadId: null,
      webhook: 'http://127.0.0.1:9/hook',
      webhookEventsFilter: ['completed', 'start'],
      idempotencyKey: 'exact-row',
      requestHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      workflowId: `job-${job.id}`,
      creditsSpent: null,
      retryCount: 0,
    });
    expect(job.requestId).toEqual(expect.any(String));

    const ledger = await env.db.creditLedger.findMany({ where: { jobId: job.id } });
    expect(ledger).toEqual([expect.objectContaining({ key: `reserve:${job.id}`, movement: 'reserve', credits: 6, userId: user.id })]);
    expect(await ledgerBalance(env.db, user.id)).toEqual({ credits: before.credits - 6, reserved: before.reserved + 6 });
    expect((await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body).toEqual(await ledgerBalance(env.db, user.id));

    const workflow = await env.temporal.workflow.getHandle(job.workflowId).describe();
    expect(workflow.type).toBe('generationJobV2');
    expect(workflow.status.name).toBe('RUNNING');
  });
});

describe('an Idempotency-Key, looked up only when accepting fails', () => {
  it('when a key is replayed after the credits ran out, then the first job answers (not 402) and nothing more is reserved', async () => {
    const poor = await fundedUser(env, 2);
    const body = { model: FLUX, prompt: 'the last credits' };
    const first = await generate(body, { 'Idempotency-Key': 'last' }, poor);
    expect(first.status).toBe(202);
    const again = await generate(body, { 'Idempotency-Key': 'last' }, poor);
    expect([again.status, again.body.job_id, again.headers['idempotent-replayed']]).toEqual([202, first.body.job_id, 'true']);
    const other = await generate({ model: FLUX, prompt: 'another body' }, { 'Idempotency-Key': 'last' }, poor);
    expect([other.status, other.body.error.code]).toEqual([422, 'idempotency_key_reused']);
    expect((await generate({ model: 'nobody/no-such-model' }, { 'Idempotency-Key': 'last' }, poor)).body.error.code).toBe('idempotency_key_reused');
    expect((await generate(body, {}, poor)).status).toBe(402);
    expect(await ledgerBalance(env.db, poor.id)).toEqual({ credits: 0, reserved: 2 });
    expect(await env.db.job.count({ where: { userId: poor.id } })).toBe(1);
  });
});

describe('reading a job', () => {
  /** A finished job with two outputs, as the worker leaves it. */
  async function finishedJob() {
    const id = randomUUID();
    await env.db.job.create({
      data: { id, userId: user.id, model: FLUX, prompt: 'done', numOutputs: 2, outputFormat: 'webp', requestHash: 'h', workflowId: `job-${id}`, status: 'succeeded', providerMetrics: { predict_time: 1.5 }, webhookEventsFilter: ['completed'], startedAt: new Date(), completedAt: new Date(), creditsSpent: 4 },
    });
    await env.db.jobOutput.createMany({
      data: [1, 0].map((index) => ({ id: randomUUID(), jobId: id, index, s3Key: `jobs/${id}/${index}.webp`, contentType: 'image/webp', sizeBytes: BigInt(1000 + index), sha256: String(index).repeat(64), width: 256, height: index ? 128 : null, sourceUrl: `http://provider/${index}` })),
    });
    return id;
  }

  it('when a job is read, then it is exactly the row Prisma reads, outputs in index order', async () => {
    const id = await finishedJob();
    const viaPrisma = await env.db.job.findFirst({ where: { id, userId: user.id }, include: { outputs: { orderBy: { index: 'asc' } } } });
    expect(await getOwnJob(env.db, user.id, id)).toEqual(viaPrisma);
    const stranger = await env.createUser();
    await expect(getOwnJob(env.db, stranger.id, id)).rejects.toMatchObject({ status: 404 });
  });

  it('when GET /status of a finished job is polled, then the first read is one SQL statement and the next ones none, with the same presigned URLs', async () => {
    const id = await finishedJob();
    const bodies: any[] = [];
    const statements: number[] = [];
    for (let i = 0; i < 3; i++) {
      const seen = await statementsOf(async () => bodies.push((await env.api.get(`/api/v1/status/${id}`).set(user.auth).expect(200).expect('Content-Type', /^application\/json/)).body));
      statements.push(seen.length);
    }
    expect(statements).toEqual([1, 0, 0]);
    expect(bodies[0].outputs).toEqual([
      // Rows made without a retention never expire (expires_at null); none is deleted.
      { index: 0, url: expect.stringContaining(`/jobs/${id}/0.webp?`), content_type: 'image/webp', size_bytes: 1000, width: 256, sha256: '0'.repeat(64), expires_at: null, deleted_at: null },
      { index: 1, url: expect.stringContaining(`/jobs/${id}/1.webp?`), content_type: 'image/webp', size_bytes: 1001, width: 256, height: 128, sha256: '1'.repeat(64), expires_at: null, deleted_at: null },
    ]);
    expect(bodies[2]).toEqual(bodies[0]);
    // Another user never gets the kept answer: their read is a query, and a 404.
    const stranger = await env.createUser();
    const seen = await statementsOf(() => env.api.get(`/api/v1/status/${id}`).set(stranger.auth).expect(404));
    expect(seen).toHaveLength(1);
  });

  it('when a job is still queued or running, then every read goes to the database, so a change is seen at once', async () => {
    const id = await finishedJob();
    await env.db.job.update({ where: { id }, data: { status: 'running', completedAt: null, creditsSpent: null } });
    const read = () => statementsOf(() => env.api.get(`/api/v1/status/${id}`).set(user.auth).expect(200));
    expect(await read()).toHaveLength(1);
    expect(await read()).toHaveLength(1);
    await env.db.job.update({ where: { id }, data: { status: 'succeeded', completedAt: new Date(), creditsSpent: 4 } });
    expect((await env.api.get(`/api/v1/status/${id}`).set(user.auth).expect(200)).body).toMatchObject({ status: 'succeeded', credits_spent: 4 });
  });
});
