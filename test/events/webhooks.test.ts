import { verifyWebhook } from '../../src/provider/webhook-signature';
import { fundedUser } from '../helpers/factories';
import { eventually, sleep } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { startReceiver } from './webhook-receiver';

/**
 * Outbound webhooks: a workflow per resource posts its events in order, signed with the
 * user's secret, retries failed answers with backoff, records every attempt, honours the
 * events filter and throttles output events.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let alice: TestUser;
let bob: TestUser;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 300 } });
  [alice, bob] = await Promise.all([fundedUser(env), fundedUser(env)]);
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const submit = (user: TestUser, body: object) => env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a lamp', ...body });

/** Waits until the job's `completed` event has been delivered (answered 200). */
const completedDelivered = (jobId: string, timeoutMs = 60_000) =>
  eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed', statusCode: 200 } }), timeoutMs, 100);

describe('outbound webhooks', () => {
  it('when the receiver fails its first two answers, then the delivery is retried until it succeeds, every request is signed with the secret, and every attempt is listed', async () => {
    receiver.failFirst('/retry', 2);
    const res = await submit(alice, { webhook: receiver.url('/retry') }).expect(202);
    const jobId = res.body.job_id;
    await completedDelivered(jobId);

    const got = receiver.at('/retry');
    expect(got.map((r) => r.answered)).toEqual([500, 500, 200, 200, 200]);
    // The same event is retried under the same webhook-id; each event has its own.
    const ids = got.map((r) => r.headers['webhook-id']);
    expect(ids[0]).toMatch(/^evt_\d+$/);
    expect(new Set(ids.slice(0, 3)).size).toBe(1);
    expect(new Set(ids.slice(2)).size).toBe(3);
    // The body is the job as its GET shows it.
    const status = await env.api.get(`/api/v1/status/${jobId}`).set(alice.auth).expect(200);
    expect(got.at(-1)!.json).toMatchObject({ job_id: jobId, status: 'succeeded', outputs: [expect.objectContaining({ index: 0, sha256: status.body.outputs[0].sha256 })] });

    const secret = (await env.api.get('/api/v1/webhooks/secret').set(alice.auth).expect(200)).body.key;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    for (const r of got) {
      const verdict = verifyWebhook({
        secret,
        headers: { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string },
        body: Buffer.from(r.body),
        toleranceSeconds: 300,
      });
      expect(verdict).toMatchObject({ ok: true });
    }
    // Another user's secret does not verify alice's deliveries.
    const bobSecret = (await env.api.get('/api/v1/webhooks/secret').set(bob.auth).expect(200)).body.key;
    expect(bobSecret).not.toBe(secret);
    const last = got.at(-1)!;
    expect(verifyWebhook({ secret: bobSecret, headers: { id: last.headers['webhook-id'] as string, timestamp: last.headers['webhook-timestamp'] as string, signature: last.headers['webhook-signature'] as string }, body: Buffer.from(last.body), toleranceSeconds: 300 }).ok).toBe(false);

    const deliveries = await eventually(async () => {
      const list = (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(alice.auth).expect(200)).body.items;
      return list.length === 5 && list;
    });
    expect(deliveries.map((d: any) => [d.event, d.attempt, d.status_code])).toEqual([
      ['status', 1, 500],
      ['status', 2, 500],
      ['status', 3, 200],
      ['output', 1, 200],
      ['completed', 1, 200],
    ]);
    expect(deliveries[0]).toMatchObject({ error: 'The receiver answered 500', next_retry_at: expect.any(String), duration_ms: expect.any(Number) });
    expect(deliveries[2]).toMatchObject({ error: null, next_retry_at: null });
    await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(bob.auth).expect(404);
    await env.api.get('/api/v1/webhooks/deliveries?resource=invoice:1').set(alice.auth).expect(422);

    // The delivery workflow ended once `completed` was delivered; the job's own did not wait for it.
    const described = await env.temporal.workflow.getHandle(`webhooks-job-${jobId}`).describe();
    expect(described.status.name).toBe('COMPLETED');
  }, 90_000);

  it('when the filter asks for completed only, then only the completed delivery is sent', async () => {
    const res = await submit(alice, { num_outputs: 2, webhook: receiver.url('/completed-only'), webhook_events_filter: ['completed'] }).expect(202);
    await completedDelivered(res.body.job_id);
    await sleep(1000);
    const got = receiver.at('/completed-only');
    expect(got).toHaveLength(1);
    expect(got[0]!.json).toMatchObject({ job_id: res.body.job_id, status: 'succeeded' });
  }, 60_000);

  it('when a job stores four outputs at once, then one output delivery carries them all, and start and completed are sent', async () => {
    const res = await submit(alice, { num_outputs: 4, webhook: receiver.url('/coalesced') }).expect(202);
    await completedDelivered(res.body.job_id);
    const events = await env.db.resourceEvent.findMany({ where: { resourceId: res.body.job_id }, orderBy: { id: 'asc' } });
    expect(events.map((e) => e.type)).toEqual(['status', 'output', 'output', 'output', 'output', 'completed']);
    const got = receiver.at('/coalesced');
    expect(got.map((r) => r.headers['webhook-id'])).toEqual([`evt_${events[0]!.id}`, `evt_${events[4]!.id}`, `evt_${events[5]!.id}`]);
    expect(got[1]!.json.outputs).toHaveLength(4);
  }, 60_000);

  it('when output events keep coming, then output deliveries are at least 500 ms apart and the latest state is sent', async () => {
    const res = await submit(alice, { webhook: receiver.url('/throttled'), parameters: { fake_latency_ms: 6000 } }).expect(202);
    const jobId = res.body.job_id;
    await eventually(async () => receiver.at('/throttled').length > 0, 30_000, 50);
    // Output events every 100 ms for 2 s, as a stream of stored outputs would write them.
    const handle = env.temporal.workflow.getHandle(`webhooks-job-${jobId}`);
    const streamStarted = Date.now();
    for (let i = 0; i < 20; i++) {
      await env.db.$executeRaw`INSERT INTO resource_events (resource_type, resource_id, user_id, type, data) VALUES ('job', ${jobId}::uuid, ${alice.id}::uuid, 'output', '{}')`;
      await handle.signal('newEvents');
      await sleep(100);
    }
    const streamMs = Date.now() - streamStarted; // 2 s, or more on a loaded machine
    await completedDelivered(jobId);
    const events = await env.db.resourceEvent.findMany({ where: { resourceId: jobId } });
    const typeOf = new Map(events.map((e) => [`evt_${e.id}`, e.type]));
    const outputs = receiver.at('/throttled').filter((r) => typeOf.get(r.headers['webhook-id'] as string) === 'output');
    expect(outputs.length).toBeGreaterThanOrEqual(2);
    // One delivery per 500 ms while the events came, plus the first and the one after the last.
    expect(outputs.length).toBeLessThanOrEqual(Math.min(19, Math.floor(streamMs / 500) + 2));
    for (let i = 1; i < outputs.length; i++) expect(outputs[i]!.at - outputs[i - 1]!.at).toBeGreaterThanOrEqual(400);
  }, 90_000);

  it('when the webhook is not http(s), is plain http to a public host, or a filter comes without a webhook, then the job is refused with 422 and nothing is charged', async () => {
    const before = (await env.api.get('/api/v1/jobs').set(bob.auth).expect(200)).body.items.length;
    for (const body of [{ webhook: 'ftp://example.com/x' }, { webhook: 'http://example.com/hook' }, { webhook_events_filter: ['start'] }, { webhook: receiver.url('/x'), webhook_events_filter: ['nope'] }]) {
      const res = await submit(bob, body);
      expect([res.status, res.body.error.code]).toEqual([422, 'validation_failed']);
    }
    expect((await env.api.get('/api/v1/jobs').set(bob.auth).expect(200)).body.items.length).toBe(before);
  }, 30_000);
});
