import { fundedUser } from '../helpers/factories';
import { eventually, sleep } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { startReceiver, startSilentReceiver } from './webhook-receiver';

/**
 * Webhook deliveries cannot hurt anyone else: they run on their own task queue with their own
 * few worker slots, each attempt gives up after WEBHOOK_TIMEOUT_MS, and each endpoint (account +
 * URL) has a circuit breaker that pauses it after repeated failures and disables it after days
 * of them, which the deliveries list shows and its owner can undo. A delivery workflow ends when
 * its resource is final, whatever its events filter.
 *
 * The waits are small here: 4 webhook slots, 4 activity slots on the main queue (so a delivery
 * holding a main slot would stall other jobs), pauses of 3 s doubling to 6 s, 3 failures to pause.
 */
const MODEL = 'black-forest-labs/flux-schnell';
const WEBHOOK_SLOTS = 4;
const ATTEMPT_TIMEOUT_MS = 10_000;
let env: TestEnv;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let silent: Awaited<ReturnType<typeof startSilentReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({
    env: {
      WORKER_MAX_CONCURRENT_ACTIVITIES: '4',
      WEBHOOK_WORKER_CONCURRENCY: String(WEBHOOK_SLOTS),
      WEBHOOK_TIMEOUT_MS: String(ATTEMPT_TIMEOUT_MS),
      WEBHOOK_CONNECT_TIMEOUT_MS: '1000',
      WEBHOOK_BREAKER_FAILURES: '3',
      WEBHOOK_PAUSE_MIN_MS: '3000',
      WEBHOOK_PAUSE_MAX_MS: '6000',
    },
  });
  [receiver, silent] = await Promise.all([startReceiver(), startSilentReceiver()]);
});
afterAll(async () => {
  await receiver?.close();
  await silent?.close();
  await env?.stop();
});

const submit = (user: TestUser, body: object) => env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a lamp', ...body }).expect(202).then((r) => r.body.job_id as string);
const deliveries = async (user: TestUser, jobId: string) => (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200)).body;

describe('webhook deliveries that cannot hurt anyone else', () => {
  it('when one account\'s receiver accepts connections and never answers, then another account\'s jobs finish while those deliveries still wait, the silent attempts never take more than the webhook slots, each gives up after the attempt timeout, and the endpoint is paused', async () => {
    const [alice, bob] = await Promise.all([fundedUser(env), fundedUser(env)]);
    const aliceJobs = await Promise.all(Array.from({ length: 12 }, () => submit(alice, { webhook: silent.url('/hung') })));
    // Every webhook slot is held by a silent attempt.
    await eventually(async () => silent.openSince(Date.now()).length >= WEBHOOK_SLOTS, 30_000, 50);
    const bobStarted = Date.now();

    const bobJobs = await Promise.all(Array.from({ length: 3 }, () => submit(bob, {})));
    for (const jobId of bobJobs) expect((await env.waitForJob(bob, jobId, 60_000)).status).toBe('succeeded');
    // Bob's jobs finished while attempts that held webhook slots before he started were still
    // waiting (had they held the slots his jobs run on, his jobs would have waited for them all).
    expect(silent.openSince(bobStarted).length).toBeGreaterThanOrEqual(1);

    // Each silent attempt gave up after the attempt timeout (not the activity's) and was recorded.
    const first = await eventually(async () => {
      const items = (await Promise.all(aliceJobs.map(async (id) => (await deliveries(alice, id)).items))).flat();
      return items.length >= WEBHOOK_SLOTS && items;
    }, 60_000, 200);
    for (const d of first) expect(d).toMatchObject({ status_code: null, error: `The receiver did not answer within ${ATTEMPT_TIMEOUT_MS} ms` });
    // Three failures paused the endpoint; the deliveries list says so.
    const listed = await eventually(async () => {
      const body = await deliveries(alice, aliceJobs[0]!);
      return body.endpoint?.status === 'paused' && body;
    }, 30_000, 100);
    expect(listed.endpoint).toMatchObject({ url: silent.url('/hung'), consecutive_failures: expect.any(Number), paused_until: expect.any(String), disabled_at: null });
    expect(listed.endpoint.consecutive_failures).toBeGreaterThanOrEqual(3);
    expect(silent.maxOpen()).toBeLessThanOrEqual(WEBHOOK_SLOTS);
    // Bob's account has no endpoint state of its own: his jobs had no webhook.
    expect((await deliveries(bob, bobJobs[0]!)).endpoint).toBeNull();
  }, 150_000);

  it('when an endpoint keeps failing, then it is paused after three failures (nothing is posted meanwhile), disabled once it has failed for the disable period, its pending deliveries are given up and listed, and the owner re-enables it', async () => {
    const carol = await fundedUser(env);
    const url = receiver.url('/failing');
    receiver.failFirst('/failing', 1_000_000);
    const jobId = await submit(carol, { webhook: url });
    expect((await env.waitForJob(carol, jobId, 60_000)).status).toBe('succeeded');

    // (The attempt that pauses the endpoint is listed right after the pause is written.)
    const paused = await eventually(async () => {
      const body = await deliveries(carol, jobId);
      return body.endpoint?.status === 'paused' && body.items.length === 3 && body;
    }, 30_000, 50);
    expect(paused.endpoint).toMatchObject({ url, consecutive_failures: 3, last_error: 'The receiver answered 500', failing_since: expect.any(String) });
    expect(paused.items.map((d: any) => [d.event, d.status_code])).toEqual([['status', 500], ['status', 500], ['status', 500]]);
    // The attempt that paused the endpoint is due again no earlier than the pause ends.
    expect(Date.parse(paused.items[2].next_retry_at)).toBeGreaterThanOrEqual(Date.parse(paused.endpoint.paused_until));
    expect(receiver.at('/failing')).toHaveLength(3);

    // Days of failures, as the clock would show them: the next failed attempt disables the endpoint.
    await env.db.webhookEndpoint.update({ where: { userId_url: { userId: carol.id, url } }, data: { failingSince: new Date(Date.now() - 4 * 24 * 3_600_000) } });
    const disabled = await eventually(async () => {
      const body = await deliveries(carol, jobId);
      return body.endpoint?.status === 'disabled' && body.items.some((d: any) => d.event === 'completed') && body;
    }, 60_000, 100);
    expect(disabled.endpoint).toMatchObject({ url, disabled_at: expect.any(String), paused_until: null });
    // The probe after the pause failed and gave the delivery up; the later events were given up without a POST.
    const probes = receiver.at('/failing').length;
    expect(probes).toBeGreaterThanOrEqual(4);
    const givenUp = disabled.items.slice(probes);
    expect(givenUp.map((d: any) => [d.event, d.status_code])).toEqual([['output', null], ['completed', null]]);
    for (const d of givenUp) expect(d).toMatchObject({ next_retry_at: null, error: expect.stringContaining('disabled') });
    expect(disabled.items[probes - 1]).toMatchObject({ status_code: 500, next_retry_at: null, error: expect.stringContaining('disabled') });
    await eventually(async () => (await env.temporal.workflow.getHandle(`webhooks-job-${jobId}`).describe()).status.name === 'COMPLETED', 30_000, 100);
    await sleep(500);
    expect(receiver.at('/failing')).toHaveLength(probes);

    // Only the owner can re-enable it, and only an endpoint the account has.
    const dave = await fundedUser(env);
    await env.api.post('/api/v1/webhooks/endpoints/reenable').set(dave.auth).send({ url }).expect(404);
    await env.api.post('/api/v1/webhooks/endpoints/reenable').set(carol.auth).send({ url: receiver.url('/never-used') }).expect(404);
    await env.api.post('/api/v1/webhooks/endpoints/reenable').set(carol.auth).send({}).expect(422);
    const reenabled = await env.api.post('/api/v1/webhooks/endpoints/reenable').set(carol.auth).send({ url }).expect(200);
    expect(reenabled.body).toMatchObject({ url, status: 'active', consecutive_failures: 0, disabled_at: null, paused_until: null, failing_since: null });

    // Re-enabled and healthy again: the next job's events are delivered.
    receiver.failFirst('/failing', 0);
    const next = await submit(carol, { webhook: url });
    await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: next, event: 'completed', statusCode: 200 } }), 60_000, 100);
    expect((await deliveries(carol, next)).endpoint).toMatchObject({ status: 'active', consecutive_failures: 0, last_success_at: expect.any(String) });
  }, 150_000);

  it('when the events filter leaves out completed, then the delivery workflow still ends once the job is final', async () => {
    const erin = await fundedUser(env);
    const jobId = await submit(erin, { webhook: receiver.url('/start-only'), webhook_events_filter: ['start'] });
    expect((await env.waitForJob(erin, jobId, 60_000)).status).toBe('succeeded');
    const handle = env.temporal.workflow.getHandle(`webhooks-job-${jobId}`);
    await eventually(async () => (await handle.describe()).status.name === 'COMPLETED', 30_000, 100);
    const got = receiver.at('/start-only');
    expect(got).toHaveLength(1);
    expect((await deliveries(erin, jobId)).items.map((d: any) => [d.event, d.status_code])).toEqual([['status', 200]]);
  }, 60_000);
});
