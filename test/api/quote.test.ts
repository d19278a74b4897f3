import { randomUUID } from 'node:crypto';
import { fundedUser, paidPayment, trainedVersion } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const FLUX = 'black-forest-labs/flux-schnell';
const SDXL = 'stability-ai/sdxl';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

const quote = (user: TestUser, body: object) => env.api.post('/api/v1/quote').set(user.auth).send(body);

/** What a quote must never change: the user's balance, ledger, jobs, prompts, image reservations and workflows. */
async function footprint(user: TestUser) {
  const [balance, ledger, jobs, prompts, versions, workflows] = await Promise.all([
    env.db.creditBalance.findUnique({ where: { userId: user.id }, select: { credits: true, reserved: true } }),
    env.db.creditLedger.count({ where: { userId: user.id } }),
    env.db.job.count({ where: { userId: user.id } }),
    env.db.prompt.count({ where: { userId: user.id } }),
    env.db.modelVersion.findMany({ where: { userId: user.id }, select: { imagesReserved: true, imagesUsed: true } }),
    env.temporal.workflow.count(`UserId = "${user.id}"`),
  ]);
  return { balance, ledger, jobs, prompts, versions, workflows: workflows.count };
}

describe('POST /api/v1/quote', () => {
  it('when a job is quoted, then the answer is what creating it reserves, with the price rule and the parameters it would run with, and nothing changes', async () => {
    const user = await fundedUser(env, 100);
    const before = await footprint(user);
    const res = await quote(user, { kind: 'job', model: SDXL, prompt: 'wide', num_outputs: 2, parameters: { width: 1536, height: 1024 } }).expect(200);
    expect(res.body).toEqual({
      kind: 'job',
      credits: 12,
      unit: 'credits',
      breakdown: {
        model: SDXL,
        per: 'output',
        base_credits: 3,
        scale: { fields: ['width', 'height'], step: 1048576, unit: 'pixels' },
        quantities: { width: 1536, height: 1024 },
        unit_credits: 6,
        count: 2,
        summary: expect.any(String),
      },
      parameters: expect.objectContaining({ width: 1536, height: 1024, disable_safety_checker: false }),
    });
    expect(await footprint(user)).toEqual(before);

    // The job created with the same body reserves exactly the quote.
    const job = await env.api.post('/api/v1/generate').set(user.auth).send({ model: SDXL, prompt: 'wide', num_outputs: 2, parameters: { width: 1536, height: 1024 } }).expect(202);
    expect((await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body).toEqual({ credits: 88, reserved: 12 });
    await env.waitForJob(user, job.body.job_id);
  });

  it('when the job body is invalid, then the quote answers exactly what creating it would, and nothing changes', async () => {
    const user = await fundedUser(env, 100);
    const before = await footprint(user);
    const bodies = [
      { model: FLUX, prompt: 'x', parameters: { disable_safety_checker: true, num_inference_steps: 500 } },
      { model: 'nobody/unknown', prompt: 'x' },
      { model: FLUX, prompt: 'x', num_outputs: 99 },
      { model: FLUX, prompt: 'x', webhook: 'http://10.0.0.1/hook' },
      { model: FLUX },
    ];
    for (const body of bodies) {
      const created = await env.api.post('/api/v1/generate').set(user.auth).send(body);
      const quoted = await quote(user, { kind: 'job', ...body });
      expect([body, quoted.status, quoted.body.error]).toEqual([body, created.status, created.body.error]);
      expect(quoted.status).toBe(422);
    }
    expect(await footprint(user)).toEqual(before);
  });

  it('when a prompt is quoted, then it costs one image of the model per output and says how many are left; nothing is reserved', async () => {
    const user = await env.createUser();
    const version = await trainedVersion(env.db, user.id);
    const before = await footprint(user);
    const res = await quote(user, { kind: 'prompt', version_id: version.id, prompt: 'TOK on a beach', num_outputs: 3 }).expect(200);
    const fresh = await env.db.modelVersion.findUniqueOrThrow({ where: { id: version.id } });
    expect(res.body).toEqual({ kind: 'prompt', version_id: version.id, images: 3, images_left: fresh.imagesTotal });
    expect(await footprint(user)).toEqual(before);

    const bad = await quote(user, { kind: 'prompt', version_id: version.id, prompt: 'TOK', parameters: { disable_safety_checker: true } }).expect(422);
    expect(bad.body.error.details.issues[0].field).toBe('parameters.disable_safety_checker');
  });

  it("when a prompt names another user's model or one still training, then 404 or 409 version_not_ready, as creating it answers", async () => {
    const alice = await env.createUser();
    const bob = await env.createUser();
    const bobs = await trainedVersion(env.db, bob.id);
    expect((await quote(alice, { kind: 'prompt', version_id: bobs.id, prompt: 'x' }).expect(404)).body.error.code).toBe('not_found');
    const payment = await paidPayment(env.db, alice.id);
    const training = await env.db.modelVersion.create({
      data: { id: randomUUID(), userId: alice.id, paymentId: payment.id, planId: 'starter', status: 'training', triggerWord: 'TOK', imageCount: 10, workflowId: `train-${payment.id}`, uploadPrefix: 'x' },
    });
    expect((await quote(alice, { kind: 'prompt', version_id: training.id, prompt: 'x' }).expect(409)).body.error.code).toBe('version_not_ready');
  });

  it('when a training is quoted, then the answer is its plan and price; an unknown plan or kind is a 4xx', async () => {
    const user = await env.createUser();
    const plans = (await env.api.get('/api/v1/plans').set(user.auth).expect(200)).body.items as Array<{ id: string; price_cents: number }>;
    const starter = plans.find((p) => p.id === 'starter')!;
    const res = await quote(user, { kind: 'training', plan_id: 'starter' }).expect(200);
    expect(res.body).toMatchObject({ kind: 'training', price_cents: starter.price_cents, currency: expect.any(String), plan: { id: 'starter' } });
    expect((await quote(user, { kind: 'training', plan_id: 'no-such-plan' })).status).toBeGreaterThanOrEqual(400);
    expect((await quote(user, { kind: 'lunch' }).expect(422)).body.error.code).toBe('validation_failed');
    await env.api.post('/api/v1/quote').send({ kind: 'training', plan_id: 'starter' }).expect(401);
  });
});

describe('credits_reserved on jobs and usage', () => {
  it('when a job runs, then it and its usage entry show the credits held for it; once it finished, credits_spent and 0 reserved', async () => {
    const user = await fundedUser(env, 100);
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'slow', num_outputs: 3, parameters: { fake_latency_ms: 1500 } }).expect(202);
    const running = await env.api.get(`/api/v1/status/${res.body.job_id}`).set(user.auth).expect(200);
    expect(running.body).toMatchObject({ credits_spent: null, credits_reserved: 6 });
    const usage = await env.api.get('/api/v1/usage').set(user.auth).expect(200);
    expect(usage.body.items[0]).toMatchObject({ job_id: res.body.job_id, credits_spent: null, credits_reserved: 6 });

    const done = await env.waitForJob(user, res.body.job_id);
    expect(done).toMatchObject({ status: 'succeeded', credits_spent: 6, credits_reserved: 0 });
    const after = await env.api.get('/api/v1/usage').set(user.auth).expect(200);
    expect(after.body.items[0]).toMatchObject({ credits_spent: 6, credits_reserved: 0 });
  });
});
