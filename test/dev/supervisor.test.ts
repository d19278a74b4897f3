/**
 * `npm start` supervises the API and the worker: the real tools/dev/start.ts, on its own Temporal,
 * MinIO, stripe-mock and local Replicate (random ports, a temp data folder) and a database cloned
 * from the test stack's template, with a worker SIGKILLed under it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../tools/dev/paths';
import { findFreePorts } from '../../tools/dev/ports';
import { makeTempDataDir } from '../../tools/dev/stack';
import { main as completeStripePayment } from '../../tools/stripe-complete-payment';
import { readStackInfo } from '../../tools/dev/stack-info';
import { cloneDatabase, dropDatabase } from '../helpers/test-env';
import { isAlive, withDescendants } from '../../tools/dev/process-tree';

jest.setTimeout(180_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `promise`'s value, or 'timed out' after `ms` (the timer does not outlive the wait). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(check()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  baseUrl: string;
  pidsFile: string;
}

async function startService(dataDir: string, databaseUrl: string): Promise<Started> {
  const [api, temporal, temporalUi, minio, minioConsole, stripeMock, replicate] = await findFreePorts(7);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    DATABASE_URL: databaseUrl,
    PORT: String(api),
    TEMPORAL_PORT: String(temporal),
    TEMPORAL_UI_PORT: String(temporalUi),
    MINIO_PORT: String(minio),
    MINIO_CONSOLE_PORT: String(minioConsole),
    STRIPE_MOCK_PORT: String(stripeMock),
    REPLICATE_LOCAL_PORT: String(replicate),
    REPLICATE_LOCAL_LATENCY_MS: '50',
    WORKER_METRICS_PORT: '0',
    WORKER_APP_METRICS_PORT: '0',
    // the bundle the global setup built: a restarted worker is polling again in seconds
    WORKFLOW_BUNDLE_PATH: readStackInfo().workflowBundlePath,
  };
  for (const key of ['REPLICATE_API_TOKEN', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'S3_ENDPOINT']) delete env[key];
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/dev/start.ts'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited, baseUrl: `http://127.0.0.1:${api}`, pidsFile: path.join(dataDir, 'pids.json') };
}

function readPids(file: string): Record<string, number> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, number>;
}

async function call(baseUrl: string, method: string, url: string, body?: unknown, apiKey?: string) {
  const res = await fetch(`${baseUrl}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('npm start supervision', () => {
  const stackInfo = readStackInfo();
  let dataDir: string;
  let databaseUrl: string;
  let service: Started | undefined;

  beforeAll(async () => {
    dataDir = makeTempDataDir('imagegen-supervisor-');
    databaseUrl = await cloneDatabase(stackInfo.databaseUrl, stackInfo.templateDatabase);
  });

  afterAll(async () => {
    if (service && service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill('SIGINT');
      await within(service.exited, 60_000);
    }
    await dropDatabase(stackInfo.databaseUrl, new URL(databaseUrl).pathname.slice(1));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('when the worker is SIGKILLed, then it is restarted with a log line, jobs still complete, and SIGINT stops everything', async () => {
    const s = (service = await startService(dataDir, databaseUrl));
    try {
      await waitFor('/health/ready', 120_000, async () => {
        if (s.child.exitCode !== null) throw new Error('start.ts exited');
        return (await fetch(`${s.baseUrl}/health/ready`)).ok || undefined;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${s.output()}`);
    }
    const before = readPids(s.pidsFile);
    expect(before).toEqual({ start: s.child.pid, api: expect.any(Number), worker: expect.any(Number) });

    // A funded user, the way a local user buys credits: checkout, then the signed Stripe event.
    const user = await call(s.baseUrl, 'POST', '/api/v1/users', { email: 'supervised@example.com' });
    expect(user.status).toBe(201);
    const apiKey = user.body.api_key as string;
    const checkout = await call(s.baseUrl, 'POST', '/api/v1/credits/checkout', { pack_id: 'credits-100' }, apiKey);
    expect(checkout.status).toBe(201);
    const paid = await completeStripePayment(['--credits', checkout.body.purchase_id, '--api', s.baseUrl, '--api-key', apiKey], {
      env: {},
      log: () => undefined,
    });
    expect(paid.status).toBe(200);

    process.kill(before.worker!, 'SIGKILL');
    await waitFor('the restart log line', 10_000, () =>
      /\[start\] worker exited \(SIGKILL\); restarting in 0\.5 s \(restart #1\)/.test(s.output()) || undefined,
    );
    const after = await waitFor('the new worker pid', 30_000, () => {
      const pids = readPids(s.pidsFile);
      return pids.worker && pids.worker !== before.worker ? pids : undefined;
    });
    expect(isAlive(before.worker!)).toBe(false);
    expect(after.api).toBe(before.api); // the rest kept running
    expect(s.output()).not.toMatch(/stopping/);

    const job = await call(s.baseUrl, 'POST', '/api/v1/generate', { model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse', num_outputs: 1 }, apiKey);
    expect(job.status).toBe(202);
    const done = await waitFor('the job to finish', 60_000, async () => {
      const status = await call(s.baseUrl, 'GET', `/api/v1/status/${job.body.job_id}`, undefined, apiKey);
      return ['succeeded', 'failed', 'canceled'].includes(status.body.status) ? status.body : undefined;
    });
    expect(done.status).toBe('succeeded');

    const tree = withDescendants([s.child.pid!]);
    expect(tree).toEqual(expect.arrayContaining([after.api, after.worker]));
    s.child.kill('SIGINT');
    const code = await within(s.exited, 60_000);
    expect(code).toBe(0);
    expect(tree.filter((pid) => pid !== s.child.pid && isAlive(pid))).toEqual([]);
    expect(fs.existsSync(s.pidsFile)).toBe(false);
    expect(s.output().split('stopping ...')[1]).not.toMatch(/restarting/);
  });
});
