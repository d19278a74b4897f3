/**
 * The service under test as it runs in production: the API (src/server.ts, through the local
 * stack's entry tools/dev/api.ts, which adds the local provider's input knobs the rows send) and the
 * worker (src/worker.ts) as separate child processes, configured like the tests configure them
 * (test/helpers/test-env.ts serviceEnv) on their own database and task queue, against the bench's
 * local provider. Also the floor worker (tools/bench/floor-worker.ts) with the same settings.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { createDb, type Db } from '../../src/db/client';
import { REPO_ROOT } from '../dev/paths';
import { findFreePorts } from '../dev/ports';
import { spawnManaged, waitUntil, type ManagedProcess } from '../dev/processes';
import { taskQueues } from '../../src/temporal/names';
import { cloneDatabase, dropDatabase, serviceEnv } from '../../test/helpers/test-env';
import { grantCreditsIfNeeded } from './credits';
import type { BenchContext } from './context';
import { HttpClient } from './http-client';

export interface BenchUser {
  id: string;
  apiKey: string;
  headers: Record<string, string>;
}

export interface Service {
  name: string;
  baseUrl: string;
  taskQueue: string;
  databaseUrl: string;
  env: Record<string, string>;
  /** Prisma client on the service's database, for setup and counting (not the service's own). */
  db: Db;
  /** The API process as it runs now (a restart replaces it). */
  readonly api: ManagedProcess;
  /** The first worker process as it runs now. */
  readonly worker: ManagedProcess;
  /** Every worker process as it runs now (all on the same task queue). */
  readonly workers: readonly ManagedProcess[];
  http: HttpClient;
  createUser(): Promise<BenchUser>;
  /** Starts the API again after it died (same port, same settings; its log is appended to). */
  restartApi(): ManagedProcess;
  /** Starts worker `index` again after it died, as an orchestrator would. */
  restartWorker(index: number): ManagedProcess;
  stop(): Promise<void>;
}

export interface ServiceOptions {
  /** Worker processes on the service's task queue (default 1). */
  workers?: number;
  /** The provider the service calls (default: the bench's in-process local provider). */
  replicateApiBaseUrl?: string;
}

/** Settings the bench changes from the test defaults (everything else as test-env sets it). */
function benchEnv(ctx: BenchContext): Record<string, string> {
  return {
    // Not 'production': production refuses the local stack's placeholder secrets and fetches
    // outputs only over https from the provider's delivery hosts. Every setting that bears on
    // performance is set explicitly below instead.
    NODE_ENV: 'development',
    // Request logs would measure the log sink, not the service; BENCH_LOG_LEVEL=info to include them.
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    DATABASE_POOL_SIZE: '10', // the production default (tests use 5)
    REPLICATE_CREATE_RATE_PER_SECOND: String(ctx.createRatePerSecond),
    REPLICATE_CALL_RATE_PER_SECOND: '45', // the production default
    JOB_POLL_INTERVAL_MS: '10000', // production default: the webhook signal ends every wait here
    JOB_TIMEOUT_MS: String(30 * 60_000),
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  // As deployed (Dockerfile, npm start): two glibc malloc arenas. WORKER_* and other tuning
  // keys set in the caller's environment pass through (to try settings).
  return { MALLOC_ARENA_MAX: '2', ...process.env, ...env };
}

/** `node --import tsx <script>`; BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS add flags (e.g. --cpu-prof). */
function nodeTs(script: string, extraArgs = ''): { command: string; args: string[] } {
  return { command: process.execPath, args: [...extraArgs.split(' ').filter(Boolean), '--import', 'tsx', script] };
}

export async function startService(ctx: BenchContext, name: string, overrides: Record<string, string> = {}, opts: ServiceOptions = {}): Promise<Service> {
  const databaseUrl = await cloneDatabase(ctx.stack.databaseUrl, ctx.stack.templateDatabase);
  const workerCount = opts.workers ?? 1;
  const [port, ...metricsPorts] = await findFreePorts(1 + 2 * workerCount);
  const taskQueue = `bench-${name}-${randomUUID().slice(0, 8)}`;
  const env = {
    ...serviceEnv(ctx.stack, { port: port!, databaseUrl, replicateApiBaseUrl: opts.replicateApiBaseUrl ?? ctx.replicate.apiBaseUrl, taskQueue }),
    ...benchEnv(ctx),
    ...overrides,
  };
  const baseUrl = env.PUBLIC_BASE_URL!;
  // a first start truncates the log; a restart appends, so the log tells the whole story
  const spawnApi = (truncateLog: boolean) =>
    spawnManaged({
      name: `${name}-api`,
      ...nodeTs('tools/dev/api.ts', process.env.BENCH_API_NODE_ARGS),
      env: childEnv(env),
      cwd: REPO_ROOT,
      logFile: path.join(ctx.runDir, `${name}-api.log`),
      truncateLog,
    });
  const spawnWorker = (index: number, truncateLog: boolean) =>
    spawnManaged({
      name: workerCount === 1 ? `${name}-worker` : `${name}-worker-${index + 1}`,
      ...nodeTs('src/worker.ts', process.env.BENCH_WORKER_NODE_ARGS),
      // the worker's metrics endpoints (on, as in production) on free ports, not the fixed defaults
      env: childEnv({
        ...env,
        WORKFLOW_BUNDLE_PATH: ctx.stack.workflowBundlePath,
        WORKER_METRICS_PORT: String(metricsPorts[2 * index]),
        WORKER_APP_METRICS_PORT: String(metricsPorts[2 * index + 1]),
      }),
      cwd: REPO_ROOT,
      logFile: path.join(ctx.runDir, workerCount === 1 ? `${name}-worker.log` : `${name}-worker-${index + 1}.log`),
      truncateLog,
    });
  let api = spawnApi(true);
  const workers = Array.from({ length: workerCount }, (_, i) => spawnWorker(i, true));
  const db = createDb(databaseUrl, 4);
  const http = new HttpClient(baseUrl, {}, 64);
  const stop = async () => {
    http.close();
    await Promise.all([api.stop(10_000), ...workers.map((w) => w.stop(10_000))]);
    await db.$disconnect();
    await dropDatabase(ctx.stack.databaseUrl, new URL(databaseUrl).pathname.slice(1)).catch(() => undefined);
  };
  try {
    await Promise.all([
      waitUntil(async () => (await http.request('GET', '/health', { timeoutMs: 1000 })).status === 200, {
        what: `the API (${baseUrl})`,
        timeoutMs: 90_000,
        intervalMs: 100,
        proc: api,
      }),
      ...workers.map((w) => waitForPollers(ctx, taskQueue, w)),
    ]);
  } catch (err) {
    await stop();
    throw err;
  }
  ctx.log(`${name}: API pid ${api.pid} on ${baseUrl}, worker pid(s) ${workers.map((w) => w.pid).join(', ')}, task queue ${taskQueue}`);

  let users = 0;
  return {
    name,
    baseUrl,
    taskQueue,
    databaseUrl,
    env,
    db,
    get api() {
      return api;
    },
    get worker() {
      return workers[0]!;
    },
    get workers() {
      return workers;
    },
    http,
    async createUser() {
      const res = await http.json('POST', '/api/v1/users', { json: { email: `bench-${name}-${++users}-${randomUUID().slice(0, 6)}@example.com` } });
      if (res.status !== 201) throw new Error(`POST /api/v1/users answered ${res.status}: ${JSON.stringify(res.body)}`);
      const user = { id: res.body.id as string, apiKey: res.body.api_key as string, headers: { authorization: `Bearer ${res.body.api_key}` } };
      await grantCreditsIfNeeded(db, user.id);
      return user;
    },
    restartApi() {
      if (!api.exited) throw new Error(`${name}: the API (pid ${api.pid}) is still running`);
      api = spawnApi(false);
      return api;
    },
    restartWorker(index) {
      if (!workers[index]?.exited) throw new Error(`${name}: worker ${index + 1} is not a dead worker`);
      workers[index] = spawnWorker(index, false);
      return workers[index];
    },
    stop,
  };
}

/** Waits until the worker(s) on `taskQueue` poll both the workflow queue and the create queue. */
export async function waitForPollers(ctx: BenchContext, taskQueue: string, proc: ManagedProcess): Promise<void> {
  const queues = taskQueues(taskQueue);
  const has = async (name: string, type: 1 | 2) => {
    const res = await ctx.temporal.workflowService.describeTaskQueue({
      namespace: ctx.stack.temporal.namespace,
      taskQueue: { name, kind: 1 },
      taskQueueType: type,
    });
    return (res.pollers?.length ?? 0) > 0;
  };
  await waitUntil(async () => (await has(queues.main, 1)) && (await has(queues.providerCreate, 2)), {
    what: `worker pollers on ${taskQueue}`,
    timeoutMs: 90_000,
    intervalMs: 200,
    proc,
  });
}

export interface FloorWorker {
  taskQueue: string;
  proc: ManagedProcess;
  /** Counters of the floor worker: create activities run so far. */
  stats(): Promise<{ creates: number; noops: number }>;
  stop(): Promise<void>;
}

/**
 * A worker for the floor workflows (tools/bench/floor-workflows.ts) with the service's exact worker
 * settings (createWorkers from src/worker.ts, the same env), on its own task queue.
 */
export async function startFloorWorker(ctx: BenchContext, svc: Service, name: string): Promise<FloorWorker> {
  const [statsPort, sdkMetricsPort] = await findFreePorts(2);
  const taskQueue = `floor-${name}-${randomUUID().slice(0, 8)}`;
  const proc = spawnManaged({
    name: `floor-${name}`,
    ...nodeTs('tools/bench/floor-worker.ts'),
    env: childEnv({
      ...svc.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      FLOOR_BUNDLE_PATH: ctx.floorBundlePath,
      FLOOR_STATS_PORT: String(statsPort),
      WORKER_METRICS_PORT: String(sdkMetricsPort),
    }),
    cwd: REPO_ROOT,
    logFile: path.join(ctx.runDir, `floor-${name}.log`),
    truncateLog: true,
  });
  const http = new HttpClient(`http://127.0.0.1:${statsPort}`, {}, 2);
  try {
    await waitForPollers(ctx, taskQueue, proc);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    taskQueue,
    proc,
    async stats() {
      return (await http.json<{ creates: number; noops: number }>('GET', '/stats')).body;
    },
    async stop() {
      http.close();
      await proc.stop(10_000);
    },
  };
}
