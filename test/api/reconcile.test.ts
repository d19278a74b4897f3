import { randomUUID } from 'node:crypto';
import { ledgerTotals } from '../../src/quota/ledger';
import { ensureReconcileSchedule } from '../../src/temporal/schedules';
import { fundedUser, paidPayment, photos, trainedVersion } from '../helpers/factories';
import { triggerReconciliation } from '../helpers/reconcile';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

let env: TestEnv;
let user: TestUser;
let scheduleId: string;

beforeAll(async () => {
  env = await startTestEnv({
    knobs: { latency_ms: 50, training_latency_ms: 300 },
    env: { RECONCILE_GRACE_MS: '1', RECONCILE_INTERVAL_MS: String(3_600_000) },
  });
  user = await fundedUser(env);
  scheduleId = await ensureReconcileSchedule(env.temporal, env.config);
});
afterAll(async () => {
  await env?.temporal.schedule.getHandle(scheduleId).delete().catch(() => undefined);
  await env?.stop();
});

/** What an operator does in the Temporal UI: the schedule runs now. */
const runReconciliation = () => triggerReconciliation(env, scheduleId);

describe('reconciliation', () => {
  it('when an operator terminated a prompt mid-run, then the schedule finds it, completes it from the provider and the quota is exact', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'orphan', num_outputs: 3, parameters: { fake_latency_ms: 600 } }).expect(202);
    const promptId = res.body.prompt_id;
    await eventually(async () => (await env.db.prompt.findUnique({ where: { id: promptId } }))?.status === 'running');
    await env.temporal.workflow.getHandle(`prompt-${version.id}`).terminate('operator: stuck');
    expect((await ledgerTotals(env.db, version.id)).reserved).toBe(3);
    await new Promise((r) => setTimeout(r, 700)); // the provider finishes meanwhile

    const report = await runReconciliation();
    expect(report.completed).toBeGreaterThanOrEqual(1);
    const prompt = await env.api.get(`/api/v1/prompts/${promptId}`).set(user.auth).expect(200);
    expect(prompt.body).toMatchObject({ status: 'succeeded' });
    expect(prompt.body.images).toHaveLength(3);
    expect(await ledgerTotals(env.db, version.id)).toEqual({ total: 50, used: 3, reserved: 0 });
    const info = await env.api.get(`/api/v1/versions/info/${version.id}`).set(user.auth).expect(200);
    expect(info.body).toMatchObject({ images_used: 3, images_reserved: 0, images_left: 47 });

    // Running it again changes nothing.
    await runReconciliation();
    expect(await ledgerTotals(env.db, version.id)).toEqual({ total: 50, used: 3, reserved: 0 });
  });

  it('when a prompt was terminated and its prediction failed, then it is failed and its reservation released', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'doomed', num_outputs: 2, parameters: { fake_latency_ms: 400, fake_error: 'GPU fell over' } }).expect(202);
    await eventually(async () => (await env.db.prompt.findUnique({ where: { id: res.body.prompt_id } }))?.status === 'running');
    await env.temporal.workflow.getHandle(`prompt-${version.id}`).terminate('operator');
    await new Promise((r) => setTimeout(r, 500));
    await runReconciliation();
    const prompt = await env.db.prompt.findUniqueOrThrow({ where: { id: res.body.prompt_id } });
    expect([prompt.status, prompt.errorMessage]).toEqual(['failed', 'GPU fell over']);
    expect(await ledgerTotals(env.db, version.id)).toEqual({ total: 50, used: 0, reserved: 0 });
  });

  it('when a job was recorded but its workflow never started (a crash in between), then it is failed with workflow_lost', async () => {
    const id = randomUUID();
    await env.db.job.create({
      data: { id, userId: user.id, model: 'black-forest-labs/flux-schnell', prompt: 'lost', numOutputs: 1, outputFormat: 'png', requestHash: 'x', workflowId: `job-${id}` },
    });
    await runReconciliation();
    const job = await env.api.get(`/api/v1/status/${id}`).set(user.auth).expect(200);
    expect(job.body).toMatchObject({ status: 'failed', error: { code: 'workflow_lost' } });
  });

  it('when a job was terminated mid-run, then its outputs are copied from the provider and it succeeds', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: 'black-forest-labs/flux-schnell', prompt: 'finish me', num_outputs: 2, parameters: { fake_latency_ms: 500 } }).expect(202);
    await eventually(async () => (await env.db.job.findUnique({ where: { id: res.body.job_id } }))?.status === 'running');
    await env.temporal.workflow.getHandle(`job-${res.body.job_id}`).terminate('operator');
    await new Promise((r) => setTimeout(r, 600));
    await runReconciliation();
    const job = await env.api.get(`/api/v1/status/${res.body.job_id}`).set(user.auth).expect(200);
    expect(job.body.status).toBe('succeeded');
    expect(job.body.outputs).toHaveLength(2);
  });

  it('when a training was terminated mid-run, then the trained version is recorded and the plan images granted', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    let req = env.api.post(`/api/v1/versions/train/${payment.id}`).set(user.auth);
    for (const [i, buf] of (await photos(10)).entries()) req = req.attach('images', buf, `p${i}.jpg`);
    const res = await req.expect(202);
    await eventually(async () => (await env.db.modelVersion.findUnique({ where: { id: res.body.version_id } }))?.status === 'training');
    await env.temporal.workflow.getHandle(`train-${payment.id}`).terminate('operator');
    await new Promise((r) => setTimeout(r, 500));
    await runReconciliation();
    const info = await env.api.get(`/api/v1/versions/info/${res.body.version_id}`).set(user.auth).expect(200);
    expect(info.body).toMatchObject({ status: 'succeeded', images_total: 50, provider_version: expect.any(String) });
  });

  it('when a finished prompt kept its reservation, then the reservation is settled', async () => {
    const version = await trainedVersion(env.db, user.id);
    const promptId = randomUUID();
    await env.db.prompt.create({ data: { id: promptId, userId: user.id, versionId: version.id, prompt: 'leak', numOutputs: 2, status: 'failed', workflowId: `prompt-${version.id}` } });
    await env.db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE model_versions SET images_reserved = images_reserved + 2 WHERE id = ${version.id}::uuid`;
      await tx.quotaLedger.create({ data: { id: randomUUID(), versionId: version.id, key: `reserve:${promptId}`, movement: 'reserve', images: 2, promptId } });
    });
    const report = await runReconciliation();
    expect(report.reservationsSettled).toBeGreaterThanOrEqual(1);
    expect(await ledgerTotals(env.db, version.id)).toEqual({ total: 50, used: 0, reserved: 0 });
    expect((await env.db.modelVersion.findUniqueOrThrow({ where: { id: version.id } })).imagesReserved).toBe(0);
  });
});
