import { eventually } from '../helpers/http';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** A queued job shows where it stands: in its GET and on its event stream; a started one does not. */
const MODEL = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let flooder: TestUser;
let other: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ env: { REPLICATE_CREATE_RATE_PER_SECOND: '1' } });
  [flooder, other] = await Promise.all([fundedUser(env), fundedUser(env)]);
});
afterAll(() => env?.stop());

const submit = async (user: TestUser, prompt: string): Promise<string> =>
  (await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt }).expect(202)).body.job_id;

describe('queue position', () => {
  it('when jobs wait in the provider queue, then their GET shows the work ahead and an estimated start, the latest of a long line the most, and a started job none', async () => {
    const flood = await Promise.all(Array.from({ length: 8 }, (_, i) => submit(flooder, `flood ${i}`)));
    const single = await submit(other, 'one');
    const last = await eventually(async () => {
      const res = await env.api.get(`/api/v1/status/${flood[flood.length - 1]}`).set(flooder.auth).expect(200);
      return res.body.status === 'queued' ? res.body : undefined;
    }, 10_000, 50);
    expect(last.queue).toEqual({ ahead: expect.any(Number), estimated_start_at: expect.any(String) });
    expect(last.queue.ahead).toBeGreaterThanOrEqual(1);
    expect(Date.parse(last.queue.estimated_start_at)).toBeGreaterThan(Date.now() - 5_000);

    const mine = (await env.api.get(`/api/v1/status/${single}`).set(other.auth).expect(200)).body;
    if (mine.status === 'queued') expect(mine.queue.ahead).toBeLessThanOrEqual(last.queue.ahead);

    const done = await env.waitForJob(other, single, 60_000);
    expect(done.status).toBe('succeeded');
    const after = (await env.api.get(`/api/v1/status/${single}`).set(other.auth).expect(200)).body;
    expect(after.queue).toBeUndefined();
    for (const id of flood) await env.waitForJob(flooder, id, 60_000);
  }, 120_000);

  it('when a queued job is streamed, then the stream says where it stands as a queue event without an id', async () => {
    const flood = await Promise.all(Array.from({ length: 6 }, (_, i) => submit(flooder, `again ${i}`)));
    const id = flood[flood.length - 1]!;
    // Six jobs at one creation a second: the last waits for several seconds.
    expect((await env.api.get(`/api/v1/status/${id}`).set(flooder.auth).expect(200)).body.status).toBe('queued');
    const controller = new AbortController();
    const res = await fetch(`${env.baseUrl}/api/v1/jobs/${id}/events`, { headers: flooder.auth, signal: controller.signal });
    const reader = res.body!.getReader();
    let text = '';
    try {
      while (!/event: queue\ndata: .*\n\n/.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } finally {
      controller.abort();
    }
    const block = /(?:^|\n)(event: queue\ndata: (.*))\n\n/.exec(text);
    expect(block).not.toBeNull();
    expect(block![1]).not.toMatch(/^id:/m);
    expect(JSON.parse(block![2]!)).toEqual({ ahead: expect.any(Number), estimated_start_at: expect.any(String) });
    for (const j of flood) await env.waitForJob(flooder, j, 60_000);
  }, 120_000);
});
