import Replicate, { validateWebhook } from 'replicate';
import { signWebhook, startLocalReplicate } from '../../tools/replicate-local/server';
import { newWebhookSecret } from '../../tools/replicate-local/webhooks';
import { clientValidates, startLocal, startWebhookReceiver, waitFor, type Local, type ReceivedRequest } from './helpers';

const FLUX = 'black-forest-labs/flux-schnell';

let t: Local;

beforeEach(async () => {
  t = await startLocal({ webhook_retry_base_ms: 20 });
});

afterEach(async () => {
  await t.local.close();
});

function payload(request: ReceivedRequest): { id: string; status: string; output: unknown; logs: string } {
  return JSON.parse(request.body);
}

async function predictWithWebhook(url: string, extra: { webhook_events_filter?: ('start' | 'output' | 'logs' | 'completed')[] } = {}) {
  return t.replicate.predictions.create({ model: FLUX, input: { prompt: 'hook', seed: 7 }, webhook: url, ...extra });
}

function completedCount(requests: ReceivedRequest[]): number {
  return requests.filter((r) => ['succeeded', 'failed', 'canceled'].includes(payload(r).status)).length;
}

test('signWebhook produces signatures the replicate client validates', async () => {
  const secret = newWebhookSecret();
  const body = '{"a":1}';
  const signature = signWebhook(secret, 'msg_1', 1700000000, body);
  expect(signature).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  expect(await validateWebhook({ id: 'msg_1', timestamp: '1700000000', signature, body, secret })).toBe(true);
  expect(await validateWebhook({ id: 'msg_1', timestamp: '1700000000', signature, body: '{"a":2}', secret })).toBe(false);
  expect(await validateWebhook({ id: 'msg_1', timestamp: '1700000000', signature, body, secret: newWebhookSecret() })).toBe(false);
});

test('sends start, logs, output and completed webhooks, signed with the default secret', async () => {
  const receiver = await startWebhookReceiver();
  try {
    const { key } = await t.replicate.webhooks.default.secret.get();
    expect(key).toBe(t.local.webhookSecret);
    expect(key).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const created = await predictWithWebhook(receiver.url);
    await waitFor(() => completedCount(receiver.requests) === 1);
    const bodies = receiver.requests.map(payload);
    expect(bodies.every((b) => b.id === created.id)).toBe(true);
    expect(bodies[0]?.status).toBe('starting');
    expect(bodies.at(-1)).toMatchObject({ status: 'succeeded', output: [expect.stringContaining('/files/')] });
    expect(bodies.some((b) => b.status === 'processing' && b.logs.includes('Using seed: 7'))).toBe(true);
    expect(bodies.some((b) => b.status === 'processing' && Array.isArray(b.output))).toBe(true);

    for (const request of receiver.requests) {
      const id = String(request.headers['webhook-id']);
      const timestamp = String(request.headers['webhook-timestamp']);
      expect(id).toMatch(/^msg_/);
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(10);
      expect(request.headers['webhook-signature']).toBe(signWebhook(key, id, timestamp, request.body));
      expect(await clientValidates(request, key)).toBe(true);
    }
  } finally {
    await receiver.close();
  }
});

test('webhook_events_filter limits the events sent', async () => {
  const receiver = await startWebhookReceiver();
  try {
    await predictWithWebhook(receiver.url, { webhook_events_filter: ['completed'] });
    await waitFor(() => receiver.requests.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests.map((r) => payload(r).status)).toEqual(['succeeded']);
  } finally {
    await receiver.close();
  }
});

test('duplicate_webhooks sends every delivery twice with the same webhook-id', async () => {
  const receiver = await startWebhookReceiver();
  t.local.setKnobs({ duplicate_webhooks: true });
  try {
    await predictWithWebhook(receiver.url, { webhook_events_filter: ['start', 'completed'] });
    await waitFor(() => completedCount(receiver.requests) === 2);
    const ids = receiver.requests.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(4);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[2]);
    expect(receiver.requests[0]?.body).toBe(receiver.requests[1]?.body);
  } finally {
    await receiver.close();
  }
});

test('a failed completed webhook is retried with backoff until it gets a 2xx', async () => {
  const receiver = await startWebhookReceiver((n) => (n < 2 ? 500 : 204));
  try {
    await predictWithWebhook(receiver.url, { webhook_events_filter: ['completed'] });
    await waitFor(() => t.local.stats().webhooks_sent === 1);
    expect(receiver.requests).toHaveLength(3);
    expect(new Set(receiver.requests.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(t.local.stats()).toMatchObject({ webhook_deliveries_failed: 2, webhooks_dropped: 0 });
  } finally {
    await receiver.close();
  }
});

test('a terminal webhook is given up after webhook_max_retries', async () => {
  const receiver = await startWebhookReceiver(() => 503);
  t.local.setKnobs({ webhook_max_retries: 2 });
  try {
    await predictWithWebhook(receiver.url, { webhook_events_filter: ['completed'] });
    await waitFor(() => t.local.stats().webhooks_dropped === 1);
    expect(receiver.requests).toHaveLength(3);
    expect(t.local.stats()).toMatchObject({ webhook_deliveries_failed: 3, webhooks_sent: 0 });
  } finally {
    await receiver.close();
  }
});

test('intermediate webhooks are not retried', async () => {
  const receiver = await startWebhookReceiver(() => 500);
  try {
    const created = await predictWithWebhook(receiver.url, { webhook_events_filter: ['start'] });
    await t.replicate.wait(created, { interval: 10 });
    await waitFor(() => t.local.stats().webhooks_dropped === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests).toHaveLength(1);
  } finally {
    await receiver.close();
  }
});

test('webhooks_enabled false drops webhooks (simulated loss)', async () => {
  const receiver = await startWebhookReceiver();
  t.local.setKnobs({ webhooks_enabled: false });
  try {
    const created = await predictWithWebhook(receiver.url);
    await t.replicate.wait(created, { interval: 10 });
    await new Promise((r) => setTimeout(r, 50));
    expect(receiver.requests).toHaveLength(0);
    expect(t.local.stats().webhooks_suppressed).toBeGreaterThanOrEqual(3);
  } finally {
    await receiver.close();
  }
});

test('a configured secret is used for signing', async () => {
  const secret = newWebhookSecret();
  const local = await startLocalReplicate({ webhookSecret: secret, knobs: { latency_ms: 10 } });
  const receiver = await startWebhookReceiver();
  try {
    const replicate = new Replicate({ auth: 'x', baseUrl: local.apiBaseUrl });
    expect((await replicate.webhooks.default.secret.get()).key).toBe(secret);
    await replicate.predictions.create({ model: FLUX, input: { prompt: 'x' }, webhook: receiver.url, webhook_events_filter: ['completed'] });
    await waitFor(() => receiver.requests.length === 1);
    const [request] = receiver.requests;
    expect(await clientValidates(request!, secret)).toBe(true);
  } finally {
    await receiver.close();
    await local.close();
  }
});
