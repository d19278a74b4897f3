import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { verifyWebhook } from '../../src/provider/webhook-signature';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Webhook tools: a signed test event sent now with what the receiver answered, the deliveries
 * list with each attempt's status, latency, a body excerpt and a plain word on redirects, and a
 * redelivery of a recorded event.
 */
const FLUX = 'black-forest-labs/flux-schnell';

interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

/** A receiver whose answer per path the test sets; it records every request. */
async function startScriptedReceiver() {
  const answers = new Map<string, Answer>();
  const received: Array<{ path: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = req.url ?? '/';
    received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString() });
    const answer = answers.get(path) ?? { status: 200 };
    res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    answer: (path: string, a: Answer) => answers.set(path, a),
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let env: TestEnv;
let user: TestUser;
let receiver: Awaited<ReturnType<typeof startScriptedReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 100 }, env: { WEBHOOK_TEST_PER_MINUTE: '8' } });
  user = await fundedUser(env, 1000);
  receiver = await startScriptedReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const testEvent = (url: string, as: TestUser = user) => env.api.post('/api/v1/webhooks/test').set(as.auth).send({ url });

describe('POST /api/v1/webhooks/test', () => {
  it('when the receiver answers 200 with a body, then the answer says delivered, its status, latency and body excerpt, and the event is signed with the account secret', async () => {
    receiver.answer('/ok', { status: 200, body: '{"thanks":true}' });
    const res = await testEvent(receiver.url('/ok'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ delivered: true, status_code: 200, body_excerpt: '{"thanks":true}', redirect_location: null, error: null });
    expect(res.body.latency_ms).toEqual(expect.any(Number));

    const [got] = receiver.at('/ok');
    expect(JSON.parse(got!.body)).toMatchObject({ type: 'test', id: res.body.webhook_id });
    const secret = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
    const verdict = verifyWebhook({
      secret,
      headers: { id: got!.headers['webhook-id'] as string, timestamp: got!.headers['webhook-timestamp'] as string, signature: got!.headers['webhook-signature'] as string },
      body: Buffer.from(got!.body),
      toleranceSeconds: 300,
    });
    expect(verdict).toMatchObject({ ok: true });
  });

  it('when the receiver answers with a redirect, then it is not followed and the answer says so plainly, with the Location', async () => {
    receiver.answer('/moved', { status: 301, headers: { Location: 'https://example.com/new-hook' } });
    const res = await testEvent(receiver.url('/moved'));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ delivered: false, status_code: 301, redirect_location: 'https://example.com/new-hook' });
    expect(res.body.error).toMatch(/redirect to https:\/\/example\.com\/new-hook; redirects are not followed/);
  });

  it('when the receiver answers 500 with a long body, then only its first 200 bytes are shown', async () => {
    receiver.answer('/broken', { status: 500, body: 'x'.repeat(5000) });
    const res = await testEvent(receiver.url('/broken'));
    expect(res.body).toMatchObject({ delivered: false, status_code: 500, error: 'The receiver answered 500' });
    expect(res.body.body_excerpt).toBe('x'.repeat(200));
  });

  it('when nothing listens at the URL, then the answer is still 200, not delivered, with no status and the reason', async () => {
    const res = await testEvent(`http://127.0.0.1:${await closedPort()}/hook`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ delivered: false, status_code: null, body_excerpt: null });
    expect(res.body.error).toEqual(expect.any(String));
  });

  it('when the URL is plain http to a host that is not loopback, then the answer is 422 and nothing is sent', async () => {
    const res = await testEvent('http://example.com/hook');
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('validation_failed');
  });

  it('when an API key sends more test events than WEBHOOK_TEST_PER_MINUTE, then it gets 429 rate_limited with Retry-After, and another key does not', async () => {
    const busy = await env.createUser();
    receiver.answer('/many', { status: 204 });
    for (let i = 0; i < 8; i++) expect((await testEvent(receiver.url('/many'), busy)).status).toBe(200);
    const over = await testEvent(receiver.url('/many'), busy);
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('rate_limited');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(receiver.at('/many')).toHaveLength(8);
    const calm = await env.createUser();
    expect((await testEvent(receiver.url('/many'), calm)).status).toBe(200);
  });
});

describe('the deliveries list and redelivery', () => {
  it("when a job's webhook answers, then each attempt shows its id, status, latency and body excerpt; a redelivery posts the event again under the same webhook-id and is listed as one", async () => {
    receiver.answer('/job', { status: 202, body: 'queued on our side' });
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'a bell', webhook: receiver.url('/job'), webhook_events_filter: ['completed'] }).expect(202);
    const jobId = res.body.job_id;
    await env.waitForJob(user, jobId, 60_000);
    // The delivery workflow starts just after the job's final commit, so the job can read as
    // succeeded a moment before it exists: wait for its attempt, then for it to end.
    await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed' } }), 30_000, 100);
    await env.temporal.workflow.getHandle(`webhooks-job-${jobId}`).result();

    const list = await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200);
    expect(list.body.items).toHaveLength(1);
    const [first] = list.body.items;
    expect(first).toMatchObject({ event: 'completed', status_code: 202, response_excerpt: 'queued on our side', redirect_location: null, redelivery: false, error: null });
    expect(first.id).toMatch(/^\d+$/);
    expect(first.duration_ms).toEqual(expect.any(Number));

    const again = await env.api.post(`/api/v1/webhooks/deliveries/${first.id}/redeliver`).set(user.auth);
    expect(again.status).toBe(202);
    expect(again.headers.location).toBe(`/api/v1/webhooks/deliveries?resource=job:${jobId}`);
    expect(again.body).toMatchObject({ delivery_id: first.id, event_id: first.event_id, event: 'completed', redelivery_requested: true });
    await env.temporal.workflow.getHandle(`webhook-redeliver-${first.event_id}`).result();

    const posts = receiver.at('/job');
    expect(posts).toHaveLength(2);
    expect(posts[1]!.headers['webhook-id']).toBe(posts[0]!.headers['webhook-id']);
    expect(JSON.parse(posts[1]!.body)).toMatchObject({ job_id: jobId, status: 'succeeded' });
    const after = await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200);
    expect(after.body.items).toHaveLength(2);
    expect(after.body.items[1]).toMatchObject({ event_id: first.event_id, status_code: 202, redelivery: true, next_retry_at: null });
  });

  it("when a job's webhook answers with a redirect, then the attempt fails and the list says it was a redirect and where it pointed", async () => {
    receiver.answer('/redirected', { status: 307, headers: { Location: 'https://hooks.example.com/final' }, body: 'see there' });
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'a horn', webhook: receiver.url('/redirected'), webhook_events_filter: ['completed'] }).expect(202);
    const jobId = res.body.job_id;
    await env.waitForJob(user, jobId, 60_000);
    const attempt = await eventually(async () => {
      const list = await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200);
      return list.body.items[0];
    }, 30_000, 100);
    expect(attempt).toMatchObject({ status_code: 307, redirect_location: 'https://hooks.example.com/final', response_excerpt: 'see there' });
    expect(attempt.error).toMatch(/a redirect to https:\/\/hooks\.example\.com\/final; redirects are not followed/);
    expect(attempt.next_retry_at).toEqual(expect.any(String));
    await env.temporal.workflow.getHandle(`webhooks-job-${jobId}`).terminate('test over');
  });

  it("when the delivery is not the caller's or does not exist, then redeliver is 404; a malformed id is 422", async () => {
    receiver.answer('/theirs', { status: 200 });
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'theirs', webhook: receiver.url('/theirs'), webhook_events_filter: ['completed'] }).expect(202);
    await env.waitForJob(user, res.body.job_id, 60_000);
    const delivery = await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: res.body.job_id } }), 30_000, 100);
    const other = await env.createUser();
    await env.api.post(`/api/v1/webhooks/deliveries/${delivery!.id}/redeliver`).set(other.auth).expect(404);
    await env.api.post('/api/v1/webhooks/deliveries/999999999/redeliver').set(user.auth).expect(404);
    const bad = await env.api.post('/api/v1/webhooks/deliveries/abc/redeliver').set(user.auth);
    expect(bad.status).toBe(422);
  });
});
