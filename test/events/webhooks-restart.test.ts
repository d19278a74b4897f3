import { createWorkers } from '../../src/worker';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { readStackInfo } from '../../tools/dev/stack-info';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { startReceiver } from './webhook-receiver';

/**
 * Webhook deliveries are durable: a delivery still failing when every worker stops is
 * delivered by the workers started afterwards, without the job waiting for it.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let user: TestUser;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ worker: false, knobs: { latency_ms: 50 } });
  user = await fundedUser(env);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const startWorkers = async () => {
  const workers = await createWorkers({ config: env.config, runtime: env.runtime, workflowBundlePath: readStackInfo().workflowBundlePath });
  const running = workers.run();
  return async () => {
    await workers.shutdown();
    await running;
  };
};

describe('webhook delivery across a worker restart', () => {
  it('when the workers stop while the receiver is failing, then the workers started later deliver every event, in order', async () => {
    receiver.setDown(true);
    let stop = await startWorkers();
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a gate', webhook: receiver.url('/restart') }).expect(202);
    const jobId = res.body.job_id;
    // The job finishes on its own while its webhook keeps failing.
    expect((await env.waitForJob(user, jobId)).status).toBe('succeeded');
    await eventually(async () => receiver.at('/restart').length >= 2, 30_000, 100);
    await stop();

    const failedBefore = receiver.at('/restart').length;
    receiver.setDown(false);
    stop = await startWorkers();
    try {
      await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed', statusCode: 200 } }), 90_000, 200);
    } finally {
      await stop();
    }
    const got = receiver.at('/restart');
    expect(got.slice(0, failedBefore).every((r) => r.answered === 500)).toBe(true);
    const delivered = got.filter((r) => r.answered === 200).map((r) => r.headers['webhook-id']);
    const events = await env.db.resourceEvent.findMany({ where: { resourceId: jobId }, orderBy: { id: 'asc' } });
    expect(delivered).toEqual(events.map((e) => `evt_${e.id}`));
    const list = (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200)).body.items;
    expect(list.filter((d: any) => d.status_code === 500).length).toBe(failedBefore);
    expect(list.filter((d: any) => d.status_code === 200).map((d: any) => d.event)).toEqual(['status', 'output', 'completed']);
  }, 150_000);
});
