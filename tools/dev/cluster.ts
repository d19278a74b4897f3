/**
 * `npm run start:cluster`: the production topology on loopback, with `npm start`'s embedded
 * defaults for everything that is not Temporal or the service itself.
 *
 *   Postgres      DATABASE_URL if set, else embedded Postgres (LOCAL_PG_PORT, 54320); it also holds
 *                 the Temporal databases temporal and temporal_visibility
 *   Temporal      the real server, two nodes: 127.0.0.2 and 127.0.0.3 (frontend TEMPORAL_NODE_PORT_BASE
 *                 7233, history +1, matching +2, worker +6, membership 300 below; metrics
 *                 TEMPORAL_METRICS_PORT 8000), 4 history shards, temporal-config/server.yaml and
 *                 dynamic-config.cluster.yaml; one frontend address for clients, 127.0.0.1:TEMPORAL_PORT
 *                 (7233), a TCP balancer over both; Web UI on TEMPORAL_UI_PORT (8233)
 *   S3            MinIO (MINIO_PORT 9000, console MINIO_CONSOLE_PORT 9001) with the bucket
 *   stripe-mock   (STRIPE_MOCK_PORT 12111)
 *   Replicate     the local Replicate-compatible server (REPLICATE_LOCAL_PORT 8787), unless
 *                 REPLICATE_API_TOKEN is set
 *   API           two processes behind one port (PORT 3000, a TCP balancer; each on a free port)
 *   workers       two
 *
 * Every process is supervised: one that exits is started again with backoff while the rest keeps
 * running. Pids are in <DATA_DIR>/pids.json. State lives in DATA_DIR (default .data/cluster), so a
 * second start reuses it. Ctrl-C (or SIGTERM) stops everything. A .env file, if present, applies first.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { migrate } from '../../src/db/migrate';
import { knobsFromEnv } from '../replicate-local/knobs';
import { startLocalReplicate, type LocalReplicate } from '../replicate-local/server';
import { CLUSTER_API_COUNT, CLUSTER_WORKER_COUNT, numHistoryShards } from './cluster-topology';
import { LOCAL_STRIPE_WEBHOOK_SECRET, LOCAL_TRAINER_MODEL } from './local-defaults';
import { REPO_ROOT } from './paths';
import { findFreePorts } from './ports';
import { SupervisedService, withParentDeathSignal } from './processes';
import { DEFAULT_PORTS, PORT_ENV_VARS, startStack, type RunningStack, type StackPorts } from './stack';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer';
import { startTemporalCluster, type TemporalCluster } from './temporal-cluster';

const DEV_DEFAULTS = {
  API_KEY_PEPPER: 'local-development-pepper-change-me',
  PORT: '3000',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
};

/** An API or worker child, over its 30 s of graceful shutdown, gets SIGKILL after this. */
const SERVICE_STOP_TIMEOUT_MS = 35_000;

async function main(): Promise<void> {
  const envFile = path.join(REPO_ROOT, '.env');
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  const env = { ...DEV_DEFAULTS, ...process.env } as Record<string, string>;
  const dataDir = path.resolve(REPO_ROOT, env.DATA_DIR || '.data/cluster');
  const say = (line: string) => console.log(`[cluster] ${line}`);
  const num = (name: string, fallback: number) => Number(env[name] || fallback);

  const ports: Partial<StackPorts> = {};
  for (const k of ['postgres', 'minio', 'minioConsole', 'stripeMock'] as const) ports[k] = num(PORT_ENV_VARS[k], DEFAULT_PORTS[k]);
  say(`starting the production topology in ${path.relative(process.cwd(), dataDir) || dataDir} ...`);
  const stack = await startStack({
    dataDir,
    persistent: true,
    ports,
    databaseUrl: env.DATABASE_URL || undefined,
    components: { temporal: false },
    log: say,
  });

  const pids = new PidsFile(path.join(dataDir, 'pids.json'));
  const services: SupervisedService[] = [];
  const balancers: TcpBalancer[] = [];
  let temporal: TemporalCluster | undefined;
  let replicate: LocalReplicate | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping ...');
    await Promise.all(services.map((s) => s.stop(SERVICE_STOP_TIMEOUT_MS)));
    await Promise.all(balancers.map((b) => b.close()));
    await temporal?.stop();
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
    temporal = await startTemporalCluster({
      dataDir,
      databaseUrl: stack.databaseUrl,
      frontendPort: num(PORT_ENV_VARS.temporal, DEFAULT_PORTS.temporal),
      uiPort: num(PORT_ENV_VARS.temporalUi, DEFAULT_PORTS.temporalUi),
      nodePortBase: num('TEMPORAL_NODE_PORT_BASE', 7233),
      metricsPort: num('TEMPORAL_METRICS_PORT', 8000),
      log: say,
      onPid: (name, pid) => pids.set(name, pid),
    });

    const serviceEnv = await appEnv(env, stack, temporal, dataDir, (r) => (replicate = r));
    const host = env.HOST ?? DEV_DEFAULTS.HOST;
    const apiPorts = await findFreePorts(CLUSTER_API_COUNT, host);
    for (let i = 1; i <= CLUSTER_WORKER_COUNT; i++) {
      services.push(supervise(`worker-${i}`, 'src/worker.ts', { ...serviceEnv, ...workerMetricsPorts(serviceEnv, i) }, pids, say));
    }
    apiPorts.forEach((port, i) => services.push(supervise(`api-${i + 1}`, 'tools/dev/api.ts', { ...serviceEnv, PORT: String(port) }, pids, say)));
    balancers.push(
      await startTcpBalancer({ host, port: Number(env.PORT), targets: apiPorts.map((port) => ({ host, port })) }),
    );
    for (const service of services) service.start();
    await waitForHttp(`${serviceEnv.PUBLIC_BASE_URL}/health`, 120_000);
    printUrls(serviceEnv, stack, temporal, replicate);
  } catch (err) {
    console.error(`[cluster] ${(err as Error).message}`);
    await stop(1);
  }
}

/** What the API and the workers run with: the same as `npm start` gives them, with the cluster's Temporal address. */
async function appEnv(
  env: Record<string, string>,
  stack: RunningStack,
  temporal: TemporalCluster,
  dataDir: string,
  onReplicate: (r: LocalReplicate) => void,
): Promise<Record<string, string>> {
  const serviceEnv: Record<string, string> = {
    ...env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
    S3_ENDPOINT: env.S3_ENDPOINT || stack.s3.endpoint,
    S3_REGION: env.S3_REGION || stack.s3.region,
    S3_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID || stack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY || stack.s3.secretAccessKey,
    S3_BUCKET: env.S3_BUCKET || stack.s3.bucket,
    MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX || '2',
    PUBLIC_BASE_URL: env.PUBLIC_BASE_URL || `http://${env.HOST}:${env.PORT}`,
    STRIPE_SECRET_KEY: env.STRIPE_SECRET_KEY || 'sk_test_123',
    STRIPE_WEBHOOK_SECRET: env.STRIPE_WEBHOOK_SECRET || LOCAL_STRIPE_WEBHOOK_SECRET,
    ...(env.STRIPE_SECRET_KEY ? {} : { STRIPE_API_BASE: `http://${stack.stripe.host}:${stack.stripe.port}` }),
    // The console's test checkout, as npm start has it.
    DEV_ROUTES: env.DEV_ROUTES || 'true',
    WEBHOOK_ALLOW_LOOPBACK: env.WEBHOOK_ALLOW_LOOPBACK || 'true',
  };
  if (!env.REPLICATE_API_TOKEN) {
    const replicate = await startLocalReplicate({
      port: Number(env.REPLICATE_LOCAL_PORT || 8787),
      knobs: knobsFromEnv(env),
      dataDir: path.join(dataDir, 'replicate'),
    });
    onReplicate(replicate);
    Object.assign(serviceEnv, {
      REPLICATE_API_TOKEN: 'r8_local',
      REPLICATE_BASE_URL: replicate.apiBaseUrl,
      REPLICATE_WEBHOOK_SECRET: replicate.webhookSecret,
      TRAINER_MODEL: env.TRAINER_MODEL || LOCAL_TRAINER_MODEL,
    });
  }
  return serviceEnv;
}

/** One API or worker as a supervised child; its output goes to our terminal; it dies with us. */
function supervise(name: string, entry: string, env: Record<string, string>, pids: PidsFile, say: (line: string) => void): SupervisedService {
  const { command, args } = withParentDeathSignal(process.execPath, ['--import', 'tsx', entry]);
  return new SupervisedService({
    name,
    spawn: () => spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] }),
    log: say,
    onPid: (pid) => pids.set(name, pid),
  });
}

/** Worker `i` (1-based) serves its metrics 2 × (i − 1) ports above the configured ones (as `npm start` does); 0 stays off. */
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

/** <DATA_DIR>/pids.json: this process and every running child by name (temporal-1, worker-2, api-1 ...). */
class PidsFile {
  private readonly pids: Record<string, number> = { cluster: process.pid };

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

/** The same table as `npm start`, with the Temporal nodes and API processes behind the one addresses. */
function printUrls(env: Record<string, string>, stack: RunningStack, temporal: TemporalCluster, replicate?: LocalReplicate): void {
  const rows: [string, string][] = [
    ['API', `${env.PUBLIC_BASE_URL}  (${CLUSTER_API_COUNT} processes, ${CLUSTER_WORKER_COUNT} workers)`],
    ['API docs', `${env.PUBLIC_BASE_URL}/docs`],
    ['Readiness', `${env.PUBLIC_BASE_URL}/health/ready`],
    ['Temporal Web UI', temporal.uiUrl || '(not available: no temporal-ui-server in .tools/bin)'],
    ['Temporal gRPC', `${temporal.address}  (nodes ${temporal.nodes.map((n) => n.frontend).join(', ')}; ${numHistoryShards()} shards)`],
    ['Postgres', stack.databaseUrl],
    ['S3 (MinIO)', `${stack.s3.endpoint}  bucket ${env.S3_BUCKET}`],
    ['MinIO console', `${stack.s3.consoleUrl}  (${stack.s3.accessKeyId} / ${stack.s3.secretAccessKey})`],
    ['stripe-mock', `http://${stack.stripe.host}:${stack.stripe.port}`],
    ['Replicate', replicate ? `${replicate.apiBaseUrl}  (local; knobs at ${replicate.url}/admin/knobs)` : env.REPLICATE_BASE_URL ?? 'https://api.replicate.com/v1'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const dataDir = path.relative(process.cwd(), path.resolve(REPO_ROOT, env.DATA_DIR || '.data/cluster')) || '.';
  console.log(`\n  Ready.\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n\n  Ctrl-C stops everything; data stays in ${dataDir}/.\n`);
}

void main();
