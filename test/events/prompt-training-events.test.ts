import { verifyWebhook } from '../../src/provider/webhook-signature';
import { paidPayment, photos, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { readStream } from './sse-reader';
import { startReceiver } from './webhook-receiver';

/**
 * Prompts and trainings tell their clients the way jobs do: signed webhooks with the body of
 * the resource's GET, and SSE streams that end at `completed`.
 */
let env: TestEnv;
let user: TestUser;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 300, training_latency_ms: 1500 } });
  user = await env.createUser();
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const delivered = (resourceId: string) =>
  eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId, event: 'completed', statusCode: 200 } }), 60_000, 100);

async function expectSigned(path: string) {
  const secret = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
  for (const r of receiver.at(path)) {
    const headers = { id: r.headers['webhook-id'] as string, timestamp: r.headers['webhook-timestamp'] as string, signature: r.headers['webhook-signature'] as string };
    expect(verifyWebhook({ secret, headers, body: Buffer.from(r.body), toleranceSeconds: 300 }).ok).toBe(true);
  }
}

describe('prompt events', () => {
  it('when a prompt with a webhook runs, then start, output and completed are delivered signed with the prompt as its GET shows it, and its SSE stream ends at completed', async () => {
    const version = await trainedVersion(env.db, user.id);
    receiver.failFirst('/prompt', 1);
    const res = await env.api
      .post(`/api/v1/prompts/create/${version.id}`)
      .set(user.auth)
      .send({ prompt: 'TOK on a hill', num_outputs: 2, webhook: receiver.url('/prompt') })
      .expect(202);
    const promptId = res.body.prompt_id;
    const stream = await readStream(env.baseUrl, `/api/v1/prompts/${promptId}/events`, user);
    expect(stream.status).toBe(200);
    expect(stream.events.at(-1)).toMatchObject({ event: 'completed', data: { status: 'succeeded' } });
    expect(stream.events.filter((e) => e.event === 'output').length).toBeGreaterThanOrEqual(1);

    await delivered(promptId);
    const got = receiver.at('/prompt');
    expect(got[0]!.answered).toBe(500);
    const answered = got.filter((r) => r.answered === 200);
    expect(answered.at(-1)!.json).toMatchObject({ prompt_id: promptId, status: 'succeeded' });
    const view = (await env.api.get(`/api/v1/prompts/${promptId}`).set(user.auth).expect(200)).body;
    expect(answered.at(-1)!.json.images.map((i: { index: number }) => i.index)).toEqual(view.images.map((i: { index: number }) => i.index));
    await expectSigned('/prompt');
  });
});

describe('training events', () => {
  it('when a training with a webhook runs, then its status, progress and completed are delivered and streamed, and the stream ends at completed', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    let req = env.api.post(`/api/v1/versions/train/${payment.id}`).set(user.auth).field('webhook', receiver.url('/training'));
    for (const [i, buf] of (await photos(10)).entries()) req = req.attach('images', buf, `photo-${i + 1}.jpg`);
    const versionId = (await req.expect(202)).body.version_id;

    const stream = await readStream(env.baseUrl, `/api/v1/versions/${versionId}/events`, user, {}, 90_000);
    expect(stream.status).toBe(200);
    const types = stream.events.map((e) => e.event);
    expect(types).toContain('status');
    expect(types).toContain('progress');
    expect(types.at(-1)).toBe('completed');
    expect(stream.events.at(-1)!.data).toMatchObject({ status: 'succeeded' });

    await delivered(versionId);
    const got = receiver.at('/training').filter((r) => r.answered === 200);
    expect(got.at(-1)!.json).toMatchObject({ version_id: versionId, status: 'succeeded' });
    // Each delivery carries the GET at its send time, so the start event may already show a later
    // status; that it was sent, and answered, is in the attempts.
    const events = await env.db.webhookDelivery.findMany({ where: { resourceId: versionId, statusCode: 200 }, select: { event: true } });
    expect(new Set(events.map((e) => e.event))).toEqual(new Set(['status', 'progress', 'completed']));
    await expectSigned('/training');

    // Resuming after the first event gives the rest, not the first again.
    const resumed = await readStream(env.baseUrl, `/api/v1/versions/${versionId}/events`, user, { 'Last-Event-ID': stream.events[0]!.id });
    expect(resumed.events.map((e) => e.id)).toEqual(stream.events.slice(1).map((e) => e.id));
  });
});
