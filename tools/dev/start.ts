/**
 * `npm start`: the whole service on loopback with embedded local defaults.
 *
 *   Postgres      DATABASE_URL if set, else embedded Postgres (port LOCAL_PG_PORT, 54320)
 *   Temporal      dev server + Web UI (TEMPORAL_PORT 7233, TEMPORAL_UI_PORT 8233), tuned dynamic config
 *   S3            MinIO (MINIO_PORT 9000, console MINIO_CONSOLE_PORT 9001) with the bucket
 *   stripe-mock   (STRIPE_MOCK_PORT 12111)
 *   Replicate     the local Replicate-compatible server (REPLICATE_LOCAL_PORT 8787),
 *                 unless REPLICATE_API_TOKEN is set: then the real Replicate API
 *   API + worker  child processes (PORT 3000); WORKER_COUNT workers (default 1)
 *
 * The API and the workers are supervised like an orchestrator would: one that exits is started
 * again with backoff (processes.ts, SupervisedService) while the rest keeps running. Their pids are
 * in <DATA_DIR>/pids.json while they run. State lives under .data/ (DATA_DIR), so a second start
 * reuses it. Ctrl-C (or SIGTERM) stops everything, with no restarts. Values from a .env file, if
 * present, apply first.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { migrate } from '../../src/db/migrate';
import { startLocalReplicate, type LocalReplicate } from '../replicate-local/server';
import { LOCAL_STRIPE_WEBHOOK_SECRET, LOCAL_TRAINER_MODEL } from './local-defaults';
import { knobsFromEnv } from '../replicate-local/knobs';
import { REPO_ROOT } from './paths';
import { SupervisedService, withParentDeathSignal } from './processes';
import { DEFAULT_PORTS, PORT_ENV_VARS, startStack, type RunningStack, type StackPorts } from './stack';

const DEV_DEFAULTS = {
  API_KEY_PEPPER: 'local-development-pepper-change-me',
  PORT: '3000',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
};

async function main(): Promise<void> {
  const envFile = path.join(REPO_ROOT, '.env');
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  const env = { ...DEV_DEFAULTS, ...process.env } as Record<string, string>;
  const dataDir = path.resolve(REPO_ROOT, env.DATA_DIR || '.data');
  const say = (line: string) => console.log(`[start] ${line}`);

  const ports: StackPorts = { ...DEFAULT_PORTS };
  for (const k of Object.keys(ports) as (keyof StackPorts)[]) {
    const fromEnv = env[PORT_ENV_VARS[k]];
    if (fromEnv) ports[k] = Number(fromEnv);
  }
  say(`starting the local stack in ${path.relative(process.cwd(), dataDir) || dataDir} ...`);
  const stack = await startStack({ dataDir, persistent: true, ports, databaseUrl: env.DATABASE_URL || undefined, log: say });
  const services: SupervisedService[] = [];
  const pids = new PidsFile(path.join(dataDir, 'pids.json'));
  let replicate: LocalReplicate | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping ...');
    await Promise.all(services.map((s) => s.stop(SERVICE_STOP_TIMEOUT_MS)));
    pids.remove();
    await replicate?.close();
    await stack.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const applied = await migrate(stack.databaseUrl);
    say(applied.length ? `applied migrations: ${applied.join(', ')}` : 'database schema is up to date');

    const serviceEnv: Record<string, string> = {
      ...env,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_NAMESPACE: stack.temporal.namespace,
      S3_ENDPOINT: env.S3_ENDPOINT || stack.s3.endpoint,
      S3_REGION: env.S3_REGION || stack.s3.region,
      S3_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID || stack.s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY || stack.s3.secretAccessKey,
      S3_BUCKET: env.S3_BUCKET || stack.s3.bucket,
      // glibc's per-thread malloc arenas make sharp's short-lived buffers look like growth;
      // two arenas keep a 30-photo training well inside the worker's memory budget.
      MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2',
      PUBLIC_BASE_URL: env.PUBLIC_BASE_URL || `http://${env.HOST}:${env.PORT}`,
      // Without Stripe keys, Stripe API calls go to stripe-mock; `npm run stripe:complete` sends signed webhooks.
      STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY || 'sk_test_123',
      STRIPE_WEBHOOK_SECRET: env.STRIPE_WEBHOOK_SECRET || LOCAL_STRIPE_WEBHOOK_SECRET,
      ...(env.STRIPE_SECRET_KEY ? {} : { STRIPE_API_BASE: `http://${stack.stripe.host}:${stack.stripe.port}` }),
      // The console's "complete this test checkout" (POST /api/v1/dev/complete-checkout) exists only where asked for.
      DEV_ROUTES: env.DEV_ROUTES || 'true',
      // Webhooks to a receiver on this machine (http://localhost:…); off everywhere else.
      WEBHOOK_ALLOW_LOOPBACK: env.WEBHOOK_ALLOW_LOOPBACK || 'true',
    };
    if (!env.REPLICATE_API_TOKEN) {
      replicate = await startLocalReplicate({
        port: Number(env.REPLICATE_LOCAL_PORT || 8787),
        knobs: knobsFromEnv(env),
        dataDir: path.join(dataDir, 'replicate'),
      });
      Object.assign(serviceEnv, {
        REPLICATE_API_TOKEN: 'r8_local',
        REPLICATE_BASE_URL: replicate.apiBaseUrl,
        REPLICATE_WEBHOOK_SECRET: replicate.webhookSecret,
        TRAINER_MODEL: env.TRAINER_MODEL || LOCAL_TRAINER_MODEL,
      });
    }

    const workerCount = Number(env.WORKER_COUNT || 1);
    if (!Number.isInteger(workerCount) || workerCount < 1) throw new Error(`WORKER_COUNT must be a positive integer, not ${env.WORKER_COUNT}`);
    for (let i = 1; i <= workerCount; i++) {
      const name = workerCount === 1 ? 'worker' : `worker-${i}`;
      services.push(supervise(name, 'src/worker.ts', { ...serviceEnv, ...workerMetricsPorts(serviceEnv, i) }, pids, say));
    }
    services.push(supervise('api', 'tools/dev/api.ts', serviceEnv, pids, say));
    for (const service of services) service.start();
    await waitForHttp(`${serviceEnv.PUBLIC_BASE_URL}/health`, 60_000);
    printUrls(serviceEnv, stack, replicate);
  } catch (err) {
    console.error(`[start] ${(err as Error).message}`);
    await stop(1);
  }
}

/** A service child, over 30 s of graceful shutdown (WORKER_SHUTDOWN_GRACE_MS), gets SIGKILL after this. */
const SERVICE_STOP_TIMEOUT_MS = 35_000;

/**
 * One service (API or worker) as a supervised child process. Its output goes to our terminal; it
 * dies with us even if we are SIGKILLed (parent-death signal, see processes.ts).
 */
function supervise(name: string, entry: string, env: Record<string, string>, pids: PidsFile, say: (line: string) => void): SupervisedService {
  const { command, args } = withParentDeathSignal(process.execPath, ['--import', 'tsx', entry]);
  return new SupervisedService({
    name,
    spawn: () => spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] }),
    log: say,
    onPid: (pid) => pids.set(name, pid),
  });
}

/**
 * Worker `i` (1-based) serves its metrics 2 × (i − 1) ports above the configured ones (the defaults
 * of src/config.ts: 9464 and 9465), so several workers never compete for a port; 0 (off) stays 0.
 */
function workerMetricsPorts(env: Record<string, string>, i: number): Record<string, string> {
  const shift = (value: string | undefined, fallback: number) => {
    const port = Number(value || fallback);
    return String(port === 0 ? 0 : port + 2 * (i - 1));
  };
  return {
    WORKER_METRICS_PORT: shift(env.WORKER_METRICS_PORT, 9464),
    WORKER_APP_METRICS_PORT: shift(env.WORKER_APP_METRICS_PORT, 9465),
  };
}

/**
 * <DATA_DIR>/pids.json: `{ "start": <this process>, "api": <pid>, "worker": <pid>, ... }` for the
 * service processes running now, so operators (and the supervision test) can signal one of them.
 * Rewritten atomically on every change; removed on stop.
 */
class PidsFile {
  private readonly pids: Record<string, number> = { start: process.pid };

  constructor(private readonly file: string) {}

  set(name: string, pid: number | undefined): void {
    if (pid === undefined) delete this.pids[name];
    else this.pids[name] = pid;
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(this.pids, null, 2)}\n`);
    fs.renameSync(tmp, this.file);
  }

  remove(): void {
    fs.rmSync(this.file, { force: true });
  }
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the API did not answer on ${url} within ${timeoutMs / 1000} s`);
}

function printUrls(env: Record<string, string>, stack: RunningStack, replicate?: LocalReplicate): void {
  const rows: [string, string][] = [
    ['API', env.PUBLIC_BASE_URL!],
    ['API docs', `${env.PUBLIC_BASE_URL}/docs`],
    ['Readiness', `${env.PUBLIC_BASE_URL}/health/ready`],
    ['Temporal Web UI', stack.temporal.uiUrl],
    ['Temporal gRPC', stack.temporal.address],
    ['Postgres', stack.databaseUrl],
    ['S3 (MinIO)', `${stack.s3.endpoint}  bucket ${env.S3_BUCKET}`],
    ['MinIO console', `${stack.s3.consoleUrl}  (${stack.s3.accessKeyId} / ${stack.s3.secretAccessKey})`],
    ['stripe-mock', `http://${stack.stripe.host}:${stack.stripe.port}`],
    ['Replicate', replicate ? `${replicate.apiBaseUrl}  (local; knobs at ${replicate.url}/admin/knobs)` : env.REPLICATE_BASE_URL ?? 'https://api.replicate.com/v1'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n  Ready.\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n\n  Ctrl-C stops everything; data stays in .data/.\n`);
}

void main();
