/**
 * The chaos rows' own Postgres and Temporal (tools/dev/stack.ts, as the tests start them; on the
 * cluster engine, a cluster of two nodes whose persistence is on this same Postgres), so that C3
 * can restart Postgres and C4 can kill Temporal without any other row, or the other test files of
 * a reused jest stack, seeing them go down. MinIO and stripe-mock are the bench stack's: no row
 * stops them.
 *
 * A restart starts the very program again with the arguments it runs with now (read from
 * /proc/<pid>/cmdline: data dir, port, dynamic config, --db-filename), as its supervisor would;
 * the replacement is this module's child and is stopped by stop().
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { migrate } from '../../src/db/migrate';
import { postgresAnswers, startStack } from '../dev/stack';
import { spawnManaged, waitUntil, type ManagedProcess } from '../dev/processes';
import { databaseUrlFor, type StackInfo } from '../dev/stack-info';
import type { BenchContext } from './context';
import { benchDataDir } from './data-dir';
import { startClusterEngine, type ClusterEngine } from './engine';
import { pidsMatching } from './proc';

const TEMPLATE_DATABASE = 'imagegen_chaos_template';
const READY_TIMEOUT_MS = 60_000;

export interface ChaosStack {
  info: StackInfo;
  dataDir: string;
  /** A Temporal client on this stack (it reconnects by itself after a restart). */
  temporal: Client;
  /** `pg_ctl restart -m fast`: SIGINT to the postmaster, wait for its exit, start it again; resolves once it answers. */
  restartPostgres(): Promise<{ stopMs: number; startMs: number }>;
  /** SIGKILL to the Temporal server (on the cluster: to its first node); resolves once it is gone. */
  killTemporal(): Promise<void>;
  /**
   * Starts the Temporal server again with the same arguments; resolves once it serves. On the
   * cluster its supervisor restarts the node by itself: this waits until it serves again.
   */
  startTemporal(): Promise<{ startMs: number }>;
  stop(): Promise<void>;
}

interface ServerProcess {
  pid: number;
  argv: string[];
  uid: number;
  gid: number;
}

export async function startChaosStack(ctx: BenchContext): Promise<ChaosStack> {
  const dataDir = benchDataDir('imagegen-chaos-');
  const onCluster = ctx.engine === 'cluster';
  const stack = await startStack({ dataDir, persistent: false, components: { minio: false, stripeMock: false, temporal: !onCluster }, log: (l) => ctx.log(`chaos ${l}`) });
  const replacements: ManagedProcess[] = [];
  let cluster: ClusterEngine | undefined;
  const stop = async () => {
    await cluster?.stop();
    await Promise.all(replacements.map((p) => p.stop(10_000)));
    await stack.stop();
  };
  let temporal: Client;
  let temporalInfo = stack.temporal;
  try {
    await createTemplate(stack.databaseUrl);
    if (onCluster) {
      cluster = await startClusterEngine({ databaseUrl: stack.databaseUrl, dataDir, log: (l) => ctx.log(`chaos cluster ${l}`) });
      temporalInfo = cluster.temporal;
    }
    temporal = new Client({ connection: await Connection.connect({ address: temporalInfo.address }), namespace: temporalInfo.namespace });
  } catch (err) {
    await stop();
    throw err;
  }
  const info: StackInfo = {
    databaseUrl: stack.databaseUrl,
    templateDatabase: TEMPLATE_DATABASE,
    temporal: temporalInfo,
    s3: ctx.stack.s3,
    stripe: ctx.stack.stripe,
    workflowBundlePath: ctx.stack.workflowBundlePath,
  };
  let temporalArgv: ServerProcess | undefined;

  const respawn = (server: ServerProcess, name: string, env: NodeJS.ProcessEnv, opts: { stopSignal?: NodeJS.Signals; parentDeathSignal: NodeJS.Signals }) => {
    const proc = spawnManaged({
      name,
      command: server.argv[0]!,
      args: server.argv.slice(1),
      env,
      logFile: path.join(ctx.runDir, `${name}.log`),
      ...(server.uid !== process.getuid?.() ? { uid: server.uid, gid: server.gid } : {}),
      ...opts,
    });
    replacements.push(proc);
    return proc;
  };

  return {
    info,
    dataDir,
    temporal,
    async restartPostgres() {
      const server = findServer(dataDir, 'postgres');
      const t0 = Date.now();
      process.kill(server.pid, 'SIGINT'); // "fast" shutdown: roll back sessions, checkpoint, exit
      await waitGone(server.pid, 'postgres to stop');
      const t1 = Date.now();
      const proc = respawn(server, 'chaos-postgres', { ...process.env, LC_MESSAGES: 'C', LC_ALL: 'C' }, { stopSignal: 'SIGINT', parentDeathSignal: 'SIGQUIT' });
      await waitUntil(() => postgresAnswers({ connectionString: stack.databaseUrl, connectionTimeoutMillis: 1000 }), { what: 'postgres after its restart', timeoutMs: READY_TIMEOUT_MS, intervalMs: 25, proc });
      return { stopMs: t1 - t0, startMs: Date.now() - t1 };
    },
    async killTemporal() {
      if (cluster) return cluster.killNode(0);
      temporalArgv = findServer(dataDir, 'temporal');
      process.kill(temporalArgv.pid, 'SIGKILL');
      await waitGone(temporalArgv.pid, 'the Temporal server to die');
    },
    async startTemporal() {
      const t0 = Date.now();
      if (cluster) {
        await cluster.nodeServing(0);
        return { startMs: Date.now() - t0 };
      }
      if (!temporalArgv) throw new Error('startTemporal: kill it first');
      // the CLI reads TEMPORAL_* variables: keep ours out, as tools/dev/stack.ts does
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
      const proc = respawn(temporalArgv, 'chaos-temporal', env, { parentDeathSignal: 'SIGKILL' });
      await waitUntil(() => temporalServes(stack.temporal.address), { what: 'the Temporal server after its restart', timeoutMs: READY_TIMEOUT_MS, intervalMs: 50, proc });
      return { startMs: Date.now() - t0 };
    },
    async stop() {
      await temporal.connection.close().catch(() => undefined);
      await stop();
    },
  };
}

async function createTemplate(serverUrl: string): Promise<void> {
  const admin = new PgClient({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  await migrate(databaseUrlFor(serverUrl, TEMPLATE_DATABASE));
}

/** The postmaster or the Temporal server of the stack in `dataDir` (Postgres backends do not name the data dir). */
function findServer(dataDir: string, program: 'postgres' | 'temporal'): ServerProcess {
  for (const pid of pidsMatching(dataDir)) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (path.basename(argv[0] ?? '') !== program) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const id = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
      return { pid, argv, uid: id('Uid'), gid: id('Gid') };
    } catch {
      /* gone meanwhile */
    }
  }
  throw new Error(`no ${program} process of the chaos stack in ${dataDir} is running`);
}

/** True once the process has exited (a zombie counts: it runs no more). */
function isGone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

function waitGone(pid: number, what: string): Promise<true> {
  return waitUntil(async () => isGone(pid) || false, { what, timeoutMs: 30_000, intervalMs: 20 });
}

async function temporalServes(address: string): Promise<boolean> {
  const conn = await Connection.connect({ address, connectTimeout: 1000 });
  try {
    return (await conn.healthService.check({})).status === 1; // SERVING
  } finally {
    await conn.close().catch(() => undefined);
  }
}
