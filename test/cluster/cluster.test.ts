/**
 * `npm run start:cluster`, the production topology: the real launcher (tools/dev/start.ts
 * --topology=cluster) as a child process, with its own data folder and ports (so it clashes with neither the jest stack nor `npm start`):
 * two Temporal server nodes on Postgres, two workers, two API processes. A job, a training and a
 * prompt run through it; then a Temporal node and a worker are SIGKILLed while jobs run; then 20 jobs
 * meet a provider create limit of 2/s that both workers share.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { main as completeStripePayment } from '../../tools/stripe-complete-payment';
import { ledgerBalance } from '../../src/credits/ledger';
import { createDb, type Db } from '../../src/db/client';
import { TEMPORAL_DATABASES, TEMPORAL_NODE_IPS } from '../../tools/dev/cluster-topology';
import { REPO_ROOT } from '../../tools/dev/paths';
import { findFreePorts } from '../../tools/dev/ports';
import { makeTempDataDir, PG_PASSWORD, PG_USER } from '../../tools/dev/stack';
import { freeNodePortBase } from '../../tools/dev/temporal-cluster';
import { samePersonSet } from '../fixtures/faces';
import { readStackInfo } from '../../tools/dev/stack-info';
import { isAlive, killTree } from '../../tools/dev/process-tree';

jest.setTimeout(300_000);

const CREATE_RATE_PER_SECOND = 2;
const FLUX = 'black-forest-labs/flux-schnell';
const FINAL = ['succeeded', 'failed', 'canceled'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(check()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

interface Cluster {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  baseUrl: string;
  replicateUrl: string;
  temporalAddress: string;
  databaseUrl: string;
  dataDir: string;
  nodePortBase: number;
}

async function startCluster(dataDir: string): Promise<Cluster> {
  const [api, pg, temporal, ui, minio, minioConsole, stripeMock, replicate, metrics] = await findFreePorts(9);
  const nodePortBase = await freeNodePortBase();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    DATA_DIR: dataDir,
    PORT: String(api),
    LOCAL_PG_PORT: String(pg),
    TEMPORAL_PORT: String(temporal),
    TEMPORAL_UI_PORT: String(ui),
    TEMPORAL_NODE_PORT_BASE: String(nodePortBase),
    TEMPORAL_METRICS_PORT: String(metrics),
    MINIO_PORT: String(minio),
    MINIO_CONSOLE_PORT: String(minioConsole),
    STRIPE_MOCK_PORT: String(stripeMock),
    REPLICATE_LOCAL_PORT: String(replicate),
    REPLICATE_LOCAL_LATENCY_MS: '200',
    REPLICATE_LOCAL_TRAINING_LATENCY_MS: '1500',
    REPLICATE_CREATE_RATE_PER_SECOND: String(CREATE_RATE_PER_SECOND),
    JOB_POLL_INTERVAL_MS: '250',
    WORKER_METRICS_PORT: '0',
    WORKER_APP_METRICS_PORT: '0',
    // the bundle the global setup built: a restarted worker polls again within seconds
    WORKFLOW_BUNDLE_PATH: readStackInfo().workflowBundlePath,
  };
  for (const key of ['DATABASE_URL', 'REPLICATE_API_TOKEN', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'S3_ENDPOINT', 'TEMPORAL_ADDRESS']) delete env[key];
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/dev/start.ts', '--topology=cluster'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    baseUrl: `http://127.0.0.1:${api}`,
    replicateUrl: `http://127.0.0.1:${replicate}`,
    temporalAddress: `127.0.0.1:${temporal}`,
    databaseUrl: `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${pg}/postgres`,
    dataDir,
    nodePortBase,
  };
}

const readPids = (c: Cluster) => JSON.parse(fs.readFileSync(path.join(c.dataDir, 'pids.json'), 'utf8')) as Record<string, number>;

async function call(c: Cluster, method: string, url: string, body?: unknown, apiKey?: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${c.baseUrl}${url}`, {
    method,
    headers: { ...(body instanceof FormData ? {} : { 'content-type': 'application/json' }), ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}), ...headers },
    body: body === undefined ? undefined : body instanceof FormData ? body : JSON.stringify(body),
  });
  return { status: res.status, retryAfter: Number(res.headers.get('retry-after') ?? 1), body: (await res.json()) as Record<string, any> };
}

/** Polls a resource until it reaches a final status. */
function finished(c: Cluster, url: string, apiKey: string, timeoutMs = 120_000): Promise<Record<string, any>> {
  return waitFor(`${url} to finish`, timeoutMs, async () => {
    const res = await call(c, 'GET', url, undefined, apiKey);
    return FINAL.includes(res.body.status) ? res.body : undefined;
  });
}

/**
 * Submits a job the way a client of a cluster should: a 503 (a Temporal node failing over) is
 * retried after its Retry-After, under the same Idempotency-Key, so a retry never makes a second job.
 */
async function generate(c: Cluster, apiKey: string, prompt: string): Promise<string> {
  const headers = { 'idempotency-key': `cluster-test-${prompt.replace(/\W/g, '-')}-${Date.now()}` };
  for (let attempt = 1; ; attempt++) {
    const job = await call(c, 'POST', '/api/v1/generate', { model: FLUX, prompt, num_outputs: 1 }, apiKey, headers);
    if (job.status === 503 && attempt < 5) {
      await sleep(job.retryAfter * 1000);
      continue;
    }
    expect({ prompt, status: job.status, body: job.status === 202 ? {} : job.body }).toEqual({ prompt, status: 202, body: {} });
    return job.body.job_id as string;
  }
}

async function setKnobs(c: Cluster, knobs: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${c.replicateUrl}/admin/knobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(knobs) });
  expect(res.status).toBe(200);
}

/** Creation times (ms) of the provider's predictions created at or after `since`, oldest first. */
async function predictionTimes(c: Cluster, since: string): Promise<number[]> {
  const times: number[] = [];
  let url: string | null = `${c.replicateUrl}/v1/predictions?created_after=${encodeURIComponent(since)}`;
  while (url) {
    const page = (await (await fetch(url, { headers: { authorization: 'Bearer r8_local' } })).json()) as { next: string | null; results: { created_at: string }[] };
    times.push(...page.results.map((p) => Date.parse(p.created_at)));
    url = page.next;
  }
  return times.sort((a, b) => a - b);
}

/** Node addresses with how many of their services heartbeat in the membership table (of sessions started since `since`). */
async function ringMembers(c: Cluster, since = new Date(0)): Promise<{ rpc_address: string; services: string }[]> {
  const pg = new PgClient({ connectionString: c.databaseUrl.replace(/\/postgres$/, `/${TEMPORAL_DATABASES.temporal}`) });
  await pg.connect();
  try {
    const { rows } = await pg.query<{ rpc_address: string; services: string }>(
      `select rpc_address, count(distinct role)::text as services from cluster_membership
        where last_heartbeat > now() - interval '30 seconds' and session_start >= $1 group by rpc_address order by rpc_address`,
      [since],
    );
    return rows;
  } finally {
    await pg.end();
  }
}

async function waitForReady(c: Cluster): Promise<void> {
  try {
    await waitFor('the URL table', 240_000, () => {
      if (c.child.exitCode !== null) throw new Error('the cluster launcher exited');
      return /Ready\./.test(c.output()) || undefined;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${c.output()}`);
  }
}

describe('npm run start:cluster', () => {
  let dataDir: string;
  let cluster: Cluster | undefined;
  let db: Db;
  let temporal: TemporalClient;
  let apiKey: string;
  let userId: string;
  const jobIds: string[] = [];

  beforeAll(async () => {
    dataDir = makeTempDataDir('imagegen-cluster-');
    const c = (cluster = await startCluster(dataDir));
    await waitForReady(c);
    db = createDb(c.databaseUrl, 2);
    temporal = new TemporalClient({ connection: await Connection.connect({ address: c.temporalAddress }) });

    const user = await call(c, 'POST', '/api/v1/users', { email: 'cluster@example.com' });
    expect(user.status).toBe(201);
    apiKey = user.body.api_key as string;
    userId = user.body.id as string;
    const checkout = await call(c, 'POST', '/api/v1/credits/checkout', { pack_id: 'credits-100' }, apiKey);
    expect(checkout.status).toBe(201);
    const paid = await completeStripePayment(['--credits', checkout.body.purchase_id, '--api', c.baseUrl, '--api-key', apiKey], { env: {}, log: () => undefined });
    expect(paid.status).toBe(200);
  });

  afterAll(async () => {
    await temporal?.connection.close().catch(() => undefined);
    await db?.$disconnect().catch(() => undefined);
    if (cluster && cluster.child.exitCode === null && cluster.child.signalCode === null) {
      cluster.child.kill('SIGINT');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([cluster.exited, new Promise((r) => (timer = setTimeout(r, 90_000)))]);
      clearTimeout(timer);
    }
    if (process.env.KEEP_STACK_DATA !== '1') fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('when it is up, then it prints the URL table and runs two Temporal nodes in one ring, two workers and two API processes', async () => {
    const c = cluster!;
    const table = c.output().split('Ready.')[1]!;
    for (const row of ['API', 'API docs', 'Readiness', 'Temporal Web UI', 'Temporal gRPC', 'Postgres', 'S3 (MinIO)', 'MinIO console', 'stripe-mock', 'Replicate']) {
      expect(table).toMatch(new RegExp(`^  ${row.replace(/[()]/g, '\\$&')} +\\S`, 'm'));
    }
    const nodes = TEMPORAL_NODE_IPS.map((ip) => `${ip}:${c.nodePortBase}`).join(', ');
    expect(table).toContain(`${c.temporalAddress}  (nodes ${nodes}; 4 shards)`);
    expect(Object.keys(readPids(c)).sort()).toEqual(
      expect.arrayContaining(['api-1', 'api-2', 'cluster', 'temporal-1', 'temporal-2', 'worker-1', 'worker-2']),
    );

    // Every service of both nodes heartbeats in the one membership table.
    expect(await ringMembers(c)).toEqual(TEMPORAL_NODE_IPS.map((ip) => ({ rpc_address: ip, services: '4' })));
    expect((await fetch(`${c.baseUrl}/health/ready`)).status).toBe(200);
  });

  test('when a job, a training and a prompt are sent, then each succeeds', async () => {
    const c = cluster!;
    const jobId = await generate(c, apiKey, 'a lighthouse');
    jobIds.push(jobId);

    const payment = await call(c, 'POST', '/api/v1/payments/create', { plan_id: 'starter' }, apiKey);
    expect(payment.status).toBe(201);
    const paid = await completeStripePayment([payment.body.payment_id, '--api', c.baseUrl, '--api-key', apiKey], { env: {}, log: () => undefined });
    expect(paid.status).toBe(200);
    const form = new FormData();
    form.append('trigger_word', 'CLU');
    // Ten photos of one real person: the cluster's API inspects faces as production does.
    for (const photo of await samePersonSet('a', 10)) form.append('images', new Blob([new Uint8Array(photo.buffer)], { type: 'image/jpeg' }), photo.filename);
    const training = await call(c, 'POST', `/api/v1/versions/train/${payment.body.payment_id}`, form, apiKey);
    expect(training.status).toBe(202);

    expect(await finished(c, `/api/v1/status/${jobId}`, apiKey)).toMatchObject({ status: 'succeeded', outputs: [expect.anything()] });
    const version = await finished(c, `/api/v1/versions/info/${training.body.version_id}`, apiKey);
    expect(version).toMatchObject({ status: 'succeeded', trigger_word: 'CLU' });

    const prompt = await call(c, 'POST', `/api/v1/prompts/create/${training.body.version_id}`, { prompt: 'CLU on a beach', num_outputs: 1 }, apiKey);
    expect(prompt.status).toBe(202);
    expect(await finished(c, `/api/v1/prompts/${prompt.body.prompt_id}`, apiKey)).toMatchObject({ status: 'succeeded' });
  });

  test('when 20 jobs go to both workers, then provider creates never exceed REPLICATE_CREATE_RATE_PER_SECOND', async () => {
    const c = cluster!;
    await waitFor('both workers and both Temporal nodes running', 90_000, async () => {
      const pids = readPids(c);
      const ring = await ringMembers(c);
      return pids['worker-1'] && pids['worker-2'] && ring.length === TEMPORAL_NODE_IPS.length && ring.every((m) => m.services === '4') ? true : undefined;
    });
    const since = new Date().toISOString();
    const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => generate(c, apiKey, `rate ${i}`)));
    jobIds.push(...ids);
    const jobs = await Promise.all(ids.map((id) => finished(c, `/api/v1/status/${id}`, apiKey, 180_000)));
    expect(jobs.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));

    const times = await predictionTimes(c, since);
    expect(times).toHaveLength(20);
    // A token bucket of CREATE_RATE_PER_SECOND per second: in any window, at most rate × its length
    // + the burst. Matching's fair dispatcher (matching.enableFairness) was seen to let one more
    // through at the start than the earlier matcher (5 within 0.84 s at 2/s); + 1 for timing noise,
    // since the times are when the provider received each create. Two workers each allowed the
    // rate on their own would send ~4/s and break this from ~3 s on, and the whole run's length below.
    const allowance = CREATE_RATE_PER_SECOND + 2; // the burst, one more, + 1
    for (let i = 0; i < times.length; i++) {
      for (let j = i + 1; j < times.length; j++) {
        const seconds = (times[j]! - times[i]!) / 1000;
        const count = j - i + 1;
        expect({ count, seconds, ok: count <= CREATE_RATE_PER_SECOND * seconds + allowance }).toEqual({ count, seconds, ok: true });
      }
    }
    expect((times[19]! - times[0]!) / 1000).toBeGreaterThanOrEqual((20 - allowance) / CREATE_RATE_PER_SECOND);

    // ... and both workers did create predictions (the limit held across them, not inside one).
    const identities = new Set<string>();
    for (const id of ids) {
      const history = await temporal.workflow.getHandle(`job-${id}`).fetchHistory();
      const scheduled = new Set(
        history.events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createPrediction').map((e) => String(e.eventId)),
      );
      for (const e of history.events!) {
        const started = e.activityTaskStartedEventAttributes;
        if (started && scheduled.has(String(started.scheduledEventId))) identities.add(started.identity!);
      }
    }
    expect([...identities]).toHaveLength(2);
  });

  test('when a Temporal node and a worker are SIGKILLed while jobs run, then every job succeeds and the credit ledger balances', async () => {
    const c = cluster!;
    await setKnobs(c, { latency_ms: 4000 }); // every job is still at the provider when the kills land
    const running = await Promise.all(Array.from({ length: 6 }, (_, i) => generate(c, apiKey, `storm ${i}`)));
    jobIds.push(...running);
    await waitFor('jobs running at the provider', 60_000, async () => {
      const states = await Promise.all(running.map(async (id) => (await call(c, 'GET', `/api/v1/status/${id}`, undefined, apiKey)).body.status));
      return states.filter((s) => s === 'running').length >= 3 || undefined;
    });

    const before = readPids(c);
    process.kill(before['temporal-1']!, 'SIGKILL');
    process.kill(before['worker-1']!, 'SIGKILL');
    await setKnobs(c, { latency_ms: 200 });
    const jobs = await Promise.all(running.map((id) => finished(c, `/api/v1/status/${id}`, apiKey, 180_000)));
    expect(jobs.map((j) => j.status)).toEqual(running.map(() => 'succeeded'));
    expect(c.output()).toMatch(/temporal-1 exited \(SIGKILL\); restarting/);
    expect(c.output()).toMatch(/worker-1 exited \(SIGKILL\); restarting/);

    // The balance the API shows equals the ledger's sums, nothing stays reserved, and every
    // succeeded job was paid for exactly once.
    const balance = await call(c, 'GET', '/api/v1/balance', undefined, apiKey);
    expect(balance.body).toEqual(await ledgerBalance(db, userId));
    const all = await Promise.all(jobIds.map(async (id) => (await call(c, 'GET', `/api/v1/status/${id}`, undefined, apiKey)).body));
    const spent = all.reduce((sum, j) => sum + (j.credits_spent as number), 0);
    expect(all.every((j) => j.status === 'succeeded' && j.credits_spent === 2)).toBe(true);
    expect(balance.body).toEqual({ credits: 100 - spent, reserved: 0 });
  });

  test('when every process of the cluster is SIGKILLed and it starts again on its data, then both nodes rejoin the ring despite the dead membership rows, and the jobs are still there', async () => {
    const crashed = cluster!;
    const tree = killTree(crashed.child.pid!);
    expect(tree.length).toBeGreaterThan(10);
    await crashed.exited;
    await waitFor('every process of the crashed cluster to be gone', 30_000, () => tree.every((pid) => !isAlive(pid)) || undefined);

    const restartedAt = new Date();
    const c = (cluster = await startCluster(dataDir));
    await waitForReady(c);
    // every service of both nodes runs in a session started now: no dead row kept one out
    expect(await ringMembers(c, restartedAt)).toEqual(TEMPORAL_NODE_IPS.map((ip) => ({ rpc_address: ip, services: '4' })));
    const earlier = await call(c, 'GET', `/api/v1/status/${jobIds[0]}`, undefined, apiKey);
    expect(earlier.body).toMatchObject({ job_id: jobIds[0], status: 'succeeded' });
    const jobId = await generate(c, apiKey, 'after the crash');
    expect(await finished(c, `/api/v1/status/${jobId}`, apiKey)).toMatchObject({ status: 'succeeded' });
  });
});
