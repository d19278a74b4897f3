import { ledgerBalance } from '../../src/credits/ledger';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * What accepting a job costs the database: POST /generate is one SQL statement (the credit
 * reservation, its ledger row and the job row together) and one workflow start, never an
 * interactive transaction holding a pool connection across round trips. The worker is off, so
 * every statement recorded here is the API's.
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

async function generate(body: object, headers: Record<string, string> = {}) {
  const res = await env.api.post('/api/v1/generate').set(user.auth).set(headers).send(body);
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
    for (const headers of [{}, { 'Idempotency-Key': 'one-statement' }]) {
      const seen = await statementsOf(async () => expect((await generate({ model: FLUX, prompt: 'counted' }, headers)).status).toBe(202));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(/UPDATE credit_balances[\s\S]*INSERT INTO credit_ledger[\s\S]*INSERT INTO "jobs"/);
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
    expect(workflow.type).toBe('generationJob');
    expect(workflow.status.name).toBe('RUNNING');
  });
});
