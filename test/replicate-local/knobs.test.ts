import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { DEFAULT_KNOBS, knobsFromEnv } from '../../tools/replicate-local/knobs';
import { startLocal, type Local } from './helpers';

let t: Local;

beforeAll(async () => {
  t = await startLocal();
});

afterAll(async () => {
  await t.local.close();
});

function admin(route: string, body?: unknown): Promise<Response> {
  return fetch(`${t.local.url}/admin/${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

test('GET/POST /admin/knobs reads and merges the live knobs', async () => {
  expect(await (await admin('knobs')).json()).toEqual(t.local.knobs);
  const updated = await admin('knobs', { failure_rate: 0.5, create_rate_limit_per_minute: null, duplicate_webhooks: true });
  expect(updated.status).toBe(200);
  expect(await updated.json()).toMatchObject({ failure_rate: 0.5, duplicate_webhooks: true, latency_ms: 30 });
  expect(t.local.knobs.failure_rate).toBe(0.5);
  t.local.setKnobs({ failure_rate: 0, duplicate_webhooks: false });
});

test('invalid knob updates are rejected with 422 and change nothing', async () => {
  const before = { ...t.local.knobs };
  for (const body of [{ failure_rate: 2 }, { no_such_knob: 1 }, { latency_ms: 'slow' }]) {
    expect((await admin('knobs', body)).status).toBe(422);
  }
  expect(t.local.knobs).toEqual(before);
  expect(() => t.local.setKnobs({ latency_ms: -1 })).toThrow();
});

test('GET /admin/stats returns the counters', async () => {
  await t.replicate.predictions.create({ model: 'black-forest-labs/flux-schnell', input: { prompt: 'x' } });
  const stats = await (await admin('stats')).json();
  expect(stats).toEqual(t.local.stats());
  expect(stats).toMatchObject({ predictions_created: 1, rate_limited_creates: 0, webhooks_sent: 0, trainings_created: 0 });
});

test('knobsFromEnv reads REPLICATE_LOCAL_<KNOB> JSON values', () => {
  expect(
    knobsFromEnv({
      REPLICATE_LOCAL_LATENCY_MS: '250',
      REPLICATE_LOCAL_WEBHOOKS_ENABLED: 'false',
      REPLICATE_LOCAL_CREATE_RATE_LIMIT_PER_MINUTE: 'null',
      REPLICATE_LOCAL_FAILURE_RATE: '',
    }),
  ).toEqual({ latency_ms: 250, webhooks_enabled: false, create_rate_limit_per_minute: null });
  expect(() => knobsFromEnv({ REPLICATE_LOCAL_FAILURE_RATE: 'often' })).toThrow();
  expect(DEFAULT_KNOBS.latency_ms).toBe(1000);
});

test('main.ts starts the server from env vars and logs its URL', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/replicate-local/main.ts'], {
    cwd: path.resolve(__dirname, '../..'),
    env: { ...process.env, REPLICATE_LOCAL_PORT: '0', REPLICATE_LOCAL_LATENCY_MS: '123' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const lines = createInterface({ input: child.stdout });
    let url = '';
    for await (const line of lines) {
      const entry = JSON.parse(line) as { url?: string };
      if (entry.url) {
        url = entry.url;
        break;
      }
    }
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const knobs = (await (await fetch(`${url}/admin/knobs`)).json()) as { latency_ms: number };
    expect(knobs.latency_ms).toBe(123);
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
});
