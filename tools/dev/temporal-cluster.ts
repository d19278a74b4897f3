/**
 * The Temporal side of `npm run start:cluster`: the real server (scripts/tools.sh builds it) as two
 * nodes on 127.0.0.2 and 127.0.0.3, sharing Postgres persistence and SQL visibility, behind one
 * frontend address on 127.0.0.1, plus the Web UI.
 *
 *   1. schema: temporal-sql-tool creates the databases temporal and temporal_visibility on the given
 *      Postgres and brings them to the server's schema version (the same steps as compose's
 *      temporal-schema service)
 *   2. membership rows of earlier runs are deleted (no node of this cluster runs yet), so a dead
 *      row can never keep a node out of the ring
 *   3. each node: temporal-config/server.yaml copied into <dataDir>/temporal/node-N/config, the
 *      server rendering it with that node's environment (addresses, ports, database)
 *   4. a TCP balancer on 127.0.0.1:<frontendPort> in front of both frontends (tcp-balancer.ts)
 *   5. deploy/temporal/setup-namespace.sh (compose's temporal-setup runs it too): the namespace and
 *      the search attributes of temporal-config/search-attributes.json, with the temporal CLI
 *   6. the Web UI server, if scripts/tools.sh could build it
 *
 * A node that exits is started again after a backoff, like the API and the workers; its own
 * membership rows are deleted first (the dead process's rows name its address).
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import {
  CLUSTER_DYNAMIC_CONFIG,
  NAMESPACE_SETUP_SCRIPT,
  SEARCH_ATTRIBUTES_FILE,
  SERVER_CONFIG_TEMPLATE,
  TEMPORAL_DATABASES,
  TEMPORAL_NODE_IPS,
  TEMPORAL_SCHEMA_DIR,
  TEMPORAL_SQL_PLUGIN,
} from './cluster-topology';
import { findTool, TOOLS_BIN } from './paths';
import { isPortInUse, LOOPBACK } from './ports';
import { SupervisedService, withParentDeathSignal } from './processes';
import { readSearchAttributes, TEMPORAL_NAMESPACE } from './stack';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer';

const execFileAsync = promisify(execFile);

export interface TemporalClusterOptions {
  /** Cluster state root: node folders and the UI config go to <dataDir>/temporal, logs to <dataDir>/logs. */
  dataDir: string;
  /** The Postgres server for the two Temporal databases (a URL to any database on it, as a superuser). */
  databaseUrl: string;
  /** The frontend address for clients: 127.0.0.1:<frontendPort>. */
  frontendPort: number;
  /** Web UI on 127.0.0.1:<uiPort>. */
  uiPort: number;
  /** Each node's frontend gRPC port on its own address; the other services' ports derive from it. */
  nodePortBase: number;
  /** Each node's Prometheus endpoint port on its own address. */
  metricsPort: number;
  log: (line: string) => void;
  /** Told each node's pid (undefined while it is down), e.g. for a pids file. */
  onPid?: (name: string, pid: number | undefined) => void;
}

export interface TemporalNode {
  name: string;
  ip: string;
  /** ip:frontend port, this node's own frontend. */
  frontend: string;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  /** Empty when the UI server is not available. */
  uiUrl: string;
  nodes: TemporalNode[];
  stop(): Promise<void>;
}

const NODE_STOP_TIMEOUT_MS = 15_000;
const READY_TIMEOUT_MS = 120_000;

/**
 * The server's command line for a node whose folder is `root`: it loads <root>/config/cluster.yaml,
 * the config template. docker-compose.yml runs the same line (test/ops/compose.test.ts checks it).
 */
export function serverArgs(root: string): string[] {
  return ['--root', root, '--config', 'config', '--env', 'cluster', '--allow-no-auth', 'start'];
}

/** A node's service ports: Temporal's usual layout (7233-7239, membership 300 below) from the frontend port. */
export function nodePorts(base: number) {
  return {
    frontend: base,
    history: base + 1,
    matching: base + 2,
    worker: base + 6,
    frontendMembership: base - 300,
    historyMembership: base - 299,
    matchingMembership: base - 298,
    workerMembership: base - 294,
  };
}

/**
 * A node port base (see nodePorts) whose whole block, and `base + 10` for the metrics, is free on
 * both node addresses; below 32768, since Temporal stores membership ports as a Postgres smallint.
 */
export async function freeNodePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 10_000 + 10 * Math.floor(Math.random() * 2000);
    const ports = [...Object.values(nodePorts(base)), base + 10];
    const busy = await Promise.all(TEMPORAL_NODE_IPS.flatMap((ip) => ports.map((p) => isPortInUse(p, ip))));
    if (!busy.some(Boolean)) return base;
  }
  throw new Error(`no free block of Temporal node ports on ${TEMPORAL_NODE_IPS.join(' and ')}`);
}

export async function startTemporalCluster(opts: TemporalClusterOptions): Promise<TemporalCluster> {
  const server = requireTool('temporal-server');
  const ports = nodePorts(opts.nodePortBase);
  await assertPortsFree(opts, ports);
  const db = new URL(opts.databaseUrl);
  const logsDir = path.join(opts.dataDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });

  await timed(opts.log, 'temporal schema is up to date', () => setUpSchema(db, logsDir));
  await clearMembership(db);

  const frontendAddress = `${LOOPBACK}:${opts.frontendPort}`;
  const nodes: TemporalNode[] = TEMPORAL_NODE_IPS.map((ip, i) => ({ name: `temporal-${i + 1}`, ip, frontend: `${ip}:${ports.frontend}` }));
  const services = nodes.map((node) =>
    superviseNode(node, {
      server,
      nodeDir: path.join(opts.dataDir, 'temporal', node.name),
      logFile: path.join(logsDir, `${node.name}.log`),
      env: nodeEnv(node, ports, db, frontendAddress, opts.metricsPort),
      log: opts.log,
      onPid: (pid) => opts.onPid?.(node.name, pid),
      onExit: () => void clearMembership(db, node.ip).catch(() => undefined),
    }),
  );
  const balancers: TcpBalancer[] = [];
  let ui: SupervisedService | undefined;
  const stop = async () => {
    await ui?.stop(5000);
    await Promise.all(balancers.map((b) => b.close()));
    await Promise.all(services.map((s) => s.stop(NODE_STOP_TIMEOUT_MS)));
  };
  try {
    for (const s of services) s.start();
    balancers.push(
      await startTcpBalancer({
        host: LOOPBACK,
        port: opts.frontendPort,
        targets: nodes.map((n) => ({ host: n.ip, port: ports.frontend })),
      }),
    );
    await timed(opts.log, `temporal nodes serving on ${nodes.map((n) => n.frontend).join(', ')}`, () =>
      Promise.all(nodes.map((n) => waitForHealth(n.frontend))),
    );
    await timed(opts.log, `namespace ${TEMPORAL_NAMESPACE} and search attributes registered`, () =>
      setUpNamespace(frontendAddress, logsDir),
    );
    await timed(opts.log, 'namespace visible on every node', () => Promise.all(nodes.map((n) => waitForNamespace(n.frontend))));
    ui = startUi(opts, frontendAddress, logsDir);
    if (ui) await waitForHttpOk(`http://${LOOPBACK}:${opts.uiPort}/`, 60_000);
    else opts.log('temporal-ui-server is not in .tools/bin (npm run tools builds it where it can): no Web UI');
  } catch (err) {
    await stop();
    throw new Error(`the Temporal cluster did not start: ${(err as Error).message}\n(logs: ${logsDir})`, { cause: err });
  }
  return {
    address: frontendAddress,
    namespace: TEMPORAL_NAMESPACE,
    uiUrl: ui ? `http://${LOOPBACK}:${opts.uiPort}` : '',
    nodes,
    stop,
  };
}

function requireTool(name: string): string {
  const bin = findTool(name);
  if (!bin) throw new Error(`${name} not found in .tools/bin or on PATH; run \`npm run tools\` first`);
  return bin;
}

async function timed<T>(log: (l: string) => void, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  log(`${what} (${Date.now() - t0} ms)`);
  return result;
}

async function assertPortsFree(opts: TemporalClusterOptions, ports: ReturnType<typeof nodePorts>): Promise<void> {
  const wanted: [string, number, string][] = [
    [LOOPBACK, opts.frontendPort, 'Temporal frontend (TEMPORAL_PORT)'],
    [LOOPBACK, opts.uiPort, 'Temporal Web UI (TEMPORAL_UI_PORT)'],
    ...TEMPORAL_NODE_IPS.flatMap((ip) => [
      ...Object.values(ports).map((p): [string, number, string] => [ip, p, 'Temporal node (TEMPORAL_NODE_PORT_BASE)']),
      [ip, opts.metricsPort, 'Temporal node metrics (TEMPORAL_METRICS_PORT)'] as [string, number, string],
    ]),
  ];
  const busy = [];
  for (const [host, port, what] of wanted) if (await isPortInUse(port, host)) busy.push(`${what}: ${host}:${port} is already in use`);
  if (busy.length > 0) throw new Error(`${busy.join('\n')}\n(another start:cluster? stop it, or choose other ports)`);
}

function pgConnection(db: URL, database: string) {
  return {
    host: db.hostname,
    port: Number(db.port || 5432),
    user: decodeURIComponent(db.username),
    password: decodeURIComponent(db.password),
    database,
    connectionTimeoutMillis: 5000,
  };
}

async function withPg<T>(db: URL, database: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient(pgConnection(db, database));
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates the two databases when missing, the schema version tables once, then applies the
 * versioned schema changes not yet applied (none on a second start; new ones after a server upgrade).
 */
async function setUpSchema(db: URL, logsDir: string): Promise<void> {
  const tool = requireTool('temporal-sql-tool');
  if (!fs.existsSync(TEMPORAL_SCHEMA_DIR)) throw new Error(`${TEMPORAL_SCHEMA_DIR} is missing; run \`npm run tools\` first`);
  const c = pgConnection(db, TEMPORAL_DATABASES.temporal);
  const env = { ...process.env, SQL_PLUGIN: TEMPORAL_SQL_PLUGIN, SQL_HOST: c.host, SQL_PORT: String(c.port), SQL_USER: c.user, SQL_PASSWORD: c.password };
  const run = async (database: string, args: string[]) => {
    try {
      await execFileAsync(tool, ['--db', database, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      fs.appendFileSync(path.join(logsDir, 'temporal-schema.log'), `${e.stdout ?? ''}${e.stderr ?? ''}`);
      throw new Error(`temporal-sql-tool --db ${database} ${args.join(' ')} failed: ${(e.stderr || e.message).trim().split('\n').slice(-5).join('\n')}`);
    }
  };
  const existing = await withPg(db, db.pathname.slice(1) || 'postgres', async (pg) =>
    (await pg.query<{ datname: string }>('select datname from pg_database')).rows.map((r) => r.datname),
  );
  for (const [kind, database] of Object.entries(TEMPORAL_DATABASES)) {
    if (!existing.includes(database)) await run(database, ['create']);
    const versioned = await withPg(db, database, async (pg) => (await pg.query("select to_regclass('schema_version') as t")).rows[0]?.t !== null);
    if (!versioned) await run(database, ['setup-schema', '-v', '0.0']);
    await run(database, ['update-schema', '-d', path.join(TEMPORAL_SCHEMA_DIR, kind, 'versioned')]);
  }
}

/**
 * Deletes membership rows: all of them before the cluster starts (none of its nodes runs), or one
 * dead node's (by its address) before it is started again. A dead row can otherwise keep a
 * starting node waiting for a peer that is gone.
 */
async function clearMembership(db: URL, ip?: string): Promise<void> {
  await withPg(db, TEMPORAL_DATABASES.temporal, (pg) =>
    ip ? pg.query('delete from cluster_membership where rpc_address = $1', [ip]) : pg.query('delete from cluster_membership'),
  );
}

/** The environment server.yaml is rendered from, for one node (the parent's TEMPORAL_* are the app's, not the server's). */
export function nodeEnv(node: TemporalNode, ports: ReturnType<typeof nodePorts>, db: URL, frontendAddress: string, metricsPort: number): NodeJS.ProcessEnv {
  const c = pgConnection(db, TEMPORAL_DATABASES.temporal);
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return {
    ...inherited,
    TEMPORAL_BIND_IP: node.ip,
    TEMPORAL_BROADCAST_ADDRESS: node.ip,
    TEMPORAL_FRONTEND_ADDRESS: frontendAddress,
    TEMPORAL_DB_HOST: c.host,
    TEMPORAL_DB_PORT: String(c.port),
    TEMPORAL_DB_USER: c.user,
    TEMPORAL_DB_PASSWORD: c.password,
    TEMPORAL_DYNAMIC_CONFIG_FILE: CLUSTER_DYNAMIC_CONFIG,
    TEMPORAL_METRICS_ADDRESS: `${node.ip}:${metricsPort}`,
    TEMPORAL_FRONTEND_PORT: String(ports.frontend),
    TEMPORAL_HISTORY_PORT: String(ports.history),
    TEMPORAL_MATCHING_PORT: String(ports.matching),
    TEMPORAL_WORKER_PORT: String(ports.worker),
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    TEMPORAL_WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
  };
}

interface NodeSpec {
  server: string;
  nodeDir: string;
  logFile: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  onPid: (pid: number | undefined) => void;
  onExit: () => void;
}

/**
 * One server node, started again when it exits. Its config is the template, copied into the node's
 * folder at every start (so an edited template applies on the next start).
 */
function superviseNode(node: TemporalNode, spec: NodeSpec): SupervisedService {
  const configDir = path.join(spec.nodeDir, 'config');
  fs.mkdirSync(configDir, { recursive: true });
  return new SupervisedService({
    name: node.name,
    log: spec.log,
    onPid: (pid) => {
      if (pid === undefined) spec.onExit();
      spec.onPid(pid);
    },
    spawn: () => {
      fs.copyFileSync(SERVER_CONFIG_TEMPLATE, path.join(configDir, 'cluster.yaml'));
      const { command, args } = withParentDeathSignal(spec.server, serverArgs(spec.nodeDir), 'SIGTERM');
      const fd = fs.openSync(spec.logFile, 'a');
      try {
        fs.writeSync(fd, `\n=== ${new Date().toISOString()} starting ${node.name} on ${node.ip}\n`);
        return spawn(command, args, { cwd: spec.nodeDir, env: spec.env, stdio: ['ignore', fd, fd] });
      } finally {
        fs.closeSync(fd);
      }
    },
  });
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}: ${(last as Error)?.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function withConnection<T>(address: string, fn: (c: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address, connectTimeout: 2000 });
  try {
    return await fn(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Resolves once the frontend at `address` answers SERVING (a node after a restart, too). */
export function waitForHealth(address: string): Promise<void> {
  return waitFor(`the Temporal frontend on ${address}`, READY_TIMEOUT_MS, () =>
    withConnection(address, async (c) => {
      const res = await c.healthService.check({});
      if (res.status !== 1 /* SERVING */) throw new Error(`health status ${res.status}`);
    }),
  );
}

/** The namespace and every search attribute, as seen by one node (namespace caches refresh every few seconds). */
function waitForNamespace(address: string): Promise<void> {
  const wanted = Object.keys(readSearchAttributes(SEARCH_ATTRIBUTES_FILE));
  return waitFor(`namespace ${TEMPORAL_NAMESPACE} on ${address}`, READY_TIMEOUT_MS, () =>
    withConnection(address, async (c) => {
      await c.workflowService.describeNamespace({ namespace: TEMPORAL_NAMESPACE });
      const attrs = await c.operatorService.listSearchAttributes({ namespace: TEMPORAL_NAMESPACE });
      const missing = wanted.filter((n) => !(n in (attrs.customAttributes ?? {})));
      if (missing.length > 0) throw new Error(`search attributes not yet visible: ${missing.join(', ')}`);
    }),
  );
}

/** deploy/temporal/setup-namespace.sh with the temporal CLI from .tools/bin (idempotent). */
async function setUpNamespace(frontendAddress: string, logsDir: string): Promise<void> {
  const cli = requireTool('temporal');
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  try {
    const { stdout } = await execFileAsync('sh', [NAMESPACE_SETUP_SCRIPT], {
      env: {
        ...inherited,
        PATH: `${path.dirname(cli)}${path.delimiter}${TOOLS_BIN}${path.delimiter}${process.env.PATH ?? ''}`,
        TEMPORAL_ADDRESS: frontendAddress,
        NAMESPACE: TEMPORAL_NAMESPACE,
        SEARCH_ATTRIBUTES_FILE,
      },
      timeout: READY_TIMEOUT_MS,
    });
    fs.appendFileSync(path.join(logsDir, 'temporal-setup.log'), stdout);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    fs.appendFileSync(path.join(logsDir, 'temporal-setup.log'), `${e.stdout ?? ''}${e.stderr ?? ''}`);
    throw new Error(`${path.basename(NAMESPACE_SETUP_SCRIPT)} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/**
 * The Web UI server pointed at the one frontend address; undefined when the binary is missing.
 * Its config (ui-server's own format) is written into <dataDir>/temporal/ui at every start.
 */
function startUi(opts: TemporalClusterOptions, frontendAddress: string, logsDir: string): SupervisedService | undefined {
  const bin = findTool('temporal-ui-server');
  if (!bin) return undefined;
  const root = path.join(opts.dataDir, 'temporal', 'ui');
  fs.mkdirSync(path.join(root, 'config'), { recursive: true });
  fs.writeFileSync(
    path.join(root, 'config', 'cluster.yaml'),
    [
      `temporalGrpcAddress: ${frontendAddress}`,
      `host: ${LOOPBACK}`,
      `port: ${opts.uiPort}`,
      'enableUi: true',
      `defaultNamespace: ${TEMPORAL_NAMESPACE}`,
      'cors:',
      `  allowOrigins: ["http://${LOOPBACK}:${opts.uiPort}", "http://localhost:${opts.uiPort}"]`,
      'hideLogs: true',
      '',
    ].join('\n'),
  );
  const service = new SupervisedService({
    name: 'temporal-ui',
    log: opts.log,
    onPid: (pid) => opts.onPid?.('temporal-ui', pid),
    spawn: () => {
      const { command, args } = withParentDeathSignal(bin, ['--root', root, '--config', 'config', '--env', 'cluster', 'start']);
      const fd = fs.openSync(path.join(logsDir, 'temporal-ui.log'), 'a');
      try {
        return spawn(command, args, { cwd: root, stdio: ['ignore', fd, fd] });
      } finally {
        fs.closeSync(fd);
      }
    },
  });
  service.start();
  return service;
}

function waitForHttpOk(url: string, timeoutMs: number): Promise<void> {
  return waitFor(url, timeoutMs, async () => {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  });
}
