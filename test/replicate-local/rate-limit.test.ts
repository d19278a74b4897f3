import Replicate from 'replicate';
import { rawApi, startLocal, type Local } from './helpers';

const FLUX = 'black-forest-labs/flux-schnell';
const THROTTLED = /^Request was throttled\. Your rate limit resets in ~(\d+)s\.$/;

let t: Local;

beforeEach(async () => {
  t = await startLocal();
});

afterEach(async () => {
  await t.local.close();
});

function createRaw() {
  return rawApi(t.local, `/models/${FLUX}/predictions`, { method: 'POST', body: { input: { prompt: 'x' } } });
}

test('prediction creates beyond the limit get a raw 429 with detail and Retry-After', async () => {
  t.local.setKnobs({ create_rate_limit_per_minute: 2 });
  expect((await createRaw()).status).toBe(201);
  expect((await createRaw()).status).toBe(201);
  const throttled = await createRaw();
  expect(throttled.status).toBe(429);
  const retryAfter = Number(throttled.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(59);
  expect(retryAfter).toBeLessThanOrEqual(60);
  const { detail } = (await throttled.json()) as { detail: string };
  expect(detail).toMatch(THROTTLED);
  expect(Number(THROTTLED.exec(detail)?.[1])).toBe(retryAfter);
  // Other calls have their own window.
  expect((await rawApi(t.local, '/predictions')).status).toBe(200);
  expect(t.local.stats()).toMatchObject({ rate_limited_creates: 1, rate_limited_other: 0 });
});

test('other calls (get, cancel, models...) are limited separately', async () => {
  t.local.setKnobs({ other_rate_limit_per_minute: 1 });
  expect((await rawApi(t.local, '/models/stability-ai/sdxl')).status).toBe(200);
  const throttled = await rawApi(t.local, '/predictions/whatever');
  expect(throttled.status).toBe(429);
  expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
  expect((await createRaw()).status).toBe(201);
  expect(t.local.stats()).toMatchObject({ rate_limited_creates: 0, rate_limited_other: 1 });
});

test('the client retries a 429 five times at once (ignoring Retry-After), then throws; it gets through once the window frees', async () => {
  t.local.setKnobs({ create_rate_limit_per_minute: 1, rate_limit_window_ms: 1000 });
  await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'first' } });

  const started = Date.now();
  const error = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'second' } }).catch((err: unknown) => err);
  expect((error as { response: Response }).response.status).toBe(429);
  expect(Date.now() - started).toBeLessThan(900); // no backoff: all attempts inside the 1 s window
  expect(t.local.stats().rate_limited_creates).toBe(6); // 1 attempt + 5 retries

  await new Promise((r) => setTimeout(r, 1000));
  const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'third' } });
  expect(created.status).toBe('starting');
});

test('an error thrown by a custom fetch is retried by the client too, then propagates unchanged', async () => {
  let calls = 0;
  const boom = new Error('network down');
  const replicate = new Replicate({
    auth: 'x',
    baseUrl: t.local.apiBaseUrl,
    fetch: async () => {
      calls++;
      throw boom;
    },
  });
  await expect(replicate.predictions.create({ model: FLUX, input: { prompt: 'x' } })).rejects.toBe(boom);
  expect(calls).toBe(6);
});
