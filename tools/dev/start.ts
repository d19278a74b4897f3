/**
 * The one launcher of the whole service on loopback, with embedded local defaults, in one of two
 * topologies:
 *
 *   npm start                  (--topology=dev, the default): the Temporal dev server, one API, WORKER_COUNT workers
 *   npm run start:cluster      (--topology=cluster): the production topology, as docker-compose.yml runs it
 *
 * Both:
 *   Postgres      DATABASE_URL if set, else embedded Postgres (port LOCAL_PG_PORT, 54320); in the
 *                 cluster it also holds the Temporal databases temporal and temporal_visibility
 *   S3            MinIO (MINIO_PORT 9000, console MINIO_CONSOLE_PORT 9001) with the bucket
 *   stripe-mock   (STRIPE_MOCK_PORT 12111)
 *   Replicate     the local Replicate-compatible server (REPLICATE_LOCAL_PORT 8787),
 *                 unless REPLICATE_API_TOKEN is set: then the real Replicate API
 *   API, workers  child processes; the API through ./api.ts, which installs the development hooks
 *                 (the local provider's input knobs, the console's test checkout) before src/server.ts
 *
 * dev:
 *   Temporal      dev server + Web UI (TEMPORAL_PORT 7233, TEMPORAL_UI_PORT 8233), tuned dynamic config
 *   API + worker  one API (PORT 3000); WORKER_COUNT workers (default 1). State in DATA_DIR (default .data)
 *
 * cluster:
 *   Temporal      the real server, two nodes: 127.0.0.2 and 127.0.0.3 (frontend TEMPORAL_NODE_PORT_BASE
 *                 7233, history +1, matching +2, worker +6, membership 300 below; metrics
 *                 TEMPORAL_METRICS_PORT 8000), 4 history shards, temporal-config/server.yaml and
 *                 dynamic-config.cluster.yaml; one frontend address for clients, 127.0.0.1:TEMPORAL_PORT
 *                 (7233), a TCP balancer over both; Web UI on TEMPORAL_UI_PORT (8233)
 *   API           two processes behind one port (PORT 3000, a TCP balancer; each on a free port)
 *   workers       two. State in DATA_DIR (default .data/cluster)
 *
 * The API and the workers are supervised like an orchestrator would: one that exits is started
 * again with backoff (processes.ts, SupervisedService) while the rest keeps running. Every pid is in
 * <DATA_DIR>/pids.json while it runs. A second start reuses the state. Ctrl-C (or SIGTERM) stops
 * everything, with no restarts. Values from a .env file, if present, apply first.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
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

type TopologyName = 'dev' | 'cluster';

/** What sets the two topologies apart; everything else is the same code. */
interface Topology {
  /** Prefix of this launcher's log lines, and its own entry in pids.json. */
  label: 'start' | 'cluster';
  defaultDataDir: string;
  /** What the first log line says is starting. */
  what: string;
  /** The API processes (several: each on a free port, behind a TCP balancer on PORT). */
  apiCount: number;
  workerCount(env: Env): number;
  /** How long the API may take to answer /health after the processes start. */
  readyTimeoutMs: number;
}

const TOPOLOGIES: Record<TopologyName, Topology> = {
  dev: {
    label: 'start',
    defaultDataDir: '.data',
    what: 'the local stack',
    apiCount: 1,
    workerCount: (env) => {
      const count = Number(env.WORKER_COUNT || 1);
      if (!Number.isInteger(count) || count < 1) throw new Error(`WORKER_COUNT must be a positive integer, not ${env.WORKER_COUNT}`);
      return count;
    },
    readyTimeoutMs: 60_000,
  },
  cluster: {
    label: 'cluster',
    defaultDataDir: '.data/cluster',
    what: 'the production topology',
    apiCount: CLUSTER_API_COUNT,
    workerCount: () => CLUSTER_WORKER_COUNT,
    readyTimeoutMs: 120_000,
  },
};

type Env = Record<string, string>;

const DEV_DEFAULTS = {
  API_KEY_PEPPER: 'local-development-pepper-change-me',
  PORT: '3000',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
};

/** An API or worker child, over its 30 s of graceful shutdown (WORKER_SHUTDOWN_GRACE_MS), gets SIGKILL after this. */
const SERVICE_STOP_TIMEOUT_MS = 35_000;

/** The Temporal a topology runs: the dev server the stack started, or the two-node cluster. */
interface RunningTemporal {
  address: string;
  namespace: string;
  /** The table's Web UI and gRPC rows. */
  uiUrl: string;
  grpcRow: string;
  stop(): Promise<void>;
}

function topologyFromArgs(argv: string[]): TopologyName {
  const { values } = parseArgs({ args: argv, options: { topology: { type: 'string', default: 'dev' } } });
  if (values.topology !== 'dev' && values.topology !== 'cluster') throw new Error(`--topology must be dev or cluster, not ${values.topology}`);
  return values.topology;
}

async function main(): Promise<void> {
  const name = topologyFromArgs(process.argv.slice(2));
  const topology = TOPOLOGIES[name];
  const envFile = path.join(REPO_ROOT, '.env');
  if (fs.existsSync(envFile)) process.loadEnvFile(envFile);
  const env = { ...DEV_DEFAULTS, ...process.env } as Env;
  const dataDir = path.resolve(REPO_ROOT, env.DATA_DIR || topology.defaultDataDir);
  const say = (line: string) => console.log(`[${topology.label}] ${line}`);
  const port = (k: keyof StackPorts) => Number(env[PORT_ENV_VARS[k]] || DEFAULT_PORTS[k]);

  say(`starting ${topology.what} in ${path.relative(process.cwd(), dataDir) || dataDir} ...`);
  // The cluster brings its own Temporal (below); the dev topology's is the stack's dev server.
  const stackPorts: (keyof StackPorts)[] = ['postgres', 'minio', 'minioConsole', 'stripeMock', ...(name === 'dev' ? (['temporal', 'temporalUi'] as const) : [])];
  const stack = await startStack({
    dataDir,
    persistent: true,
    ports: Object.fromEntries(stackPorts.map((k) => [k, port(k)])),
    databaseUrl: env.DATABASE_URL || undefined,
    components: { temporal: name === 'dev' },
    log: say,
  });

  const pids = new PidsFile(path.join(dataDir, 'pids.json'), topology.label);
  const services: SupervisedService[] = [];
  const balancers: TcpBalancer[] = [];
  let temporal: RunningTemporal | undefined;
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
    temporal =
      name === 'dev'
        ? { ...stack.temporal, grpcRow: stack.temporal.address, stop: async () => {} }
        : clusterTemporal(
            await startTemporalCluster({
              dataDir,
              databaseUrl: stack.databaseUrl,
              frontendPort: port('temporal'),
              uiPort: port('temporalUi'),
              nodePortBase: Number(env.TEMPORAL_NODE_PORT_BASE || 7233),
              metricsPort: Number(env.TEMPORAL_METRICS_PORT || 8000),
              log: say,
              onPid: (node, pid) => pids.set(node, pid),
            }),
          );

    const serviceEnv = appEnv(env, stack, temporal);
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

    const workerCount = topology.workerCount(env);
    for (let i = 1; i <= workerCount; i++) {
      const worker = workerCount === 1 ? 'worker' : `worker-${i}`;
      services.push(supervise(worker, 'src/worker.ts', { ...serviceEnv, ...workerMetricsPorts(serviceEnv, i) }, pids, say));
    }
    if (topology.apiCount === 1) {
      services.push(supervise('api', 'tools/dev/api.ts', serviceEnv, pids, say));
    } else {
      const host = env.HOST ?? DEV_DEFAULTS.HOST;
      const apiPorts = await findFreePorts(topology.apiCount, host);
      apiPorts.forEach((p, i) => services.push(supervise(`api-${i + 1}`, 'tools/dev/api.ts', { ...serviceEnv, PORT: String(p) }, pids, say)));
      balancers.push(await startTcpBalancer({ host, port: Number(env.PORT), targets: apiPorts.map((p) => ({ host, port: p })) }));
    }
    for (const service of services) service.start();
    await waitForHttp(`${serviceEnv.PUBLIC_BASE_URL}/health`, topology.readyTimeoutMs);
    const apiRow = topology.apiCount === 1 ? serviceEnv.PUBLIC_BASE_URL! : `${serviceEnv.PUBLIC_BASE_URL}  (${topology.apiCount} processes, ${workerCount} workers)`;
    printUrls(serviceEnv, apiRow, stack, temporal, path.relative(process.cwd(), dataDir) || '.', replicate);
  } catch (err) {
    console.error(`[${topology.label}] ${(err as Error).message}`);
    await stop(1);
  }
}

/** The cluster's Temporal as the launcher shows and stops it. */
function clusterTemporal(cluster: TemporalCluster): RunningTemporal {
  return {
    address: cluster.address,
    namespace: cluster.namespace,
    uiUrl: cluster.uiUrl || '(not available: no temporal-ui-server in .tools/bin)',
    grpcRow: `${cluster.address}  (nodes ${cluster.nodes.map((n) => n.frontend).join(', ')}; ${numHistoryShards()} shards)`,
    stop: () => cluster.stop(),
  };
}

/** What the API and the workers run with, in either topology (the local provider's settings are added when it runs). */
function appEnv(env: Env, stack: RunningStack, temporal: RunningTemporal): Env {
  return {
    ...env,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_NAMESPACE: temporal.namespace,
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
}

/**
 * One service (API or worker) as a supervised child process. Its output goes to our terminal; it
 * dies with us even if we are SIGKILLed (parent-death signal, see processes.ts).
 */
function supervise(name: string, entry: string, env: Env, pids: PidsFile, say: (line: string) => void): SupervisedService {
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
function workerMetricsPorts(env: Env, i: number): Env {
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
 * <DATA_DIR>/pids.json: `{ "start": <this process>, "api": <pid>, "worker": <pid>, ... }` (in the
 * cluster `{ "cluster": …, "temporal-1": …, "api-1": …, "worker-2": … }`) for the processes running
 * now, so operators (and the supervision tests) can signal one of them. Rewritten atomically on
 * every change; removed on stop.
 */
class PidsFile {
  private readonly pids: Record<string, number>;

  constructor(
    private readonly file: string,
    self: string,
  ) {
    this.pids = { [self]: process.pid };
  }

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

function printUrls(env: Env, apiRow: string, stack: RunningStack, temporal: RunningTemporal, dataDir: string, replicate?: LocalReplicate): void {
  const rows: [string, string][] = [
    ['API', apiRow],
    ['API docs', `${env.PUBLIC_BASE_URL}/docs`],
    ['Readiness', `${env.PUBLIC_BASE_URL}/health/ready`],
    ['Temporal Web UI', temporal.uiUrl],
    ['Temporal gRPC', temporal.grpcRow],
    ['Postgres', stack.databaseUrl],
    ['S3 (MinIO)', `${stack.s3.endpoint}  bucket ${env.S3_BUCKET}`],
    ['MinIO console', `${stack.s3.consoleUrl}  (${stack.s3.accessKeyId} / ${stack.s3.secretAccessKey})`],
    ['stripe-mock', `http://${stack.stripe.host}:${stack.stripe.port}`],
    ['Replicate', replicate ? `${replicate.apiBaseUrl}  (local; knobs at ${replicate.url}/admin/knobs)` : env.REPLICATE_BASE_URL ?? 'https://api.replicate.com/v1'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n  Ready.\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n\n  Ctrl-C stops everything; data stays in ${dataDir}/.\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
