/**
 * The Temporal server a bench run measures on. `dev`: the CLI dev server that `npm start` and the
 * tests run (one process, SQLite, one history shard), started by tools/dev/stack.ts. `cluster`: the
 * production topology of `npm run start:cluster` (tools/dev/temporal-cluster.ts): two server nodes
 * from .tools/bin/temporal-server with their membership on 127.0.0.2 and 127.0.0.3, persistence
 * and visibility on the stack's Postgres, 4 history shards, one frontend address through a TCP
 * balancer. Its nodes are supervised: one that dies is started again with backoff.
 */
import path from 'node:path';
import { findFreePorts } from '../dev/ports';
import { freeNodePortBase, startTemporalCluster, waitForHealth, type TemporalCluster } from '../dev/temporal-cluster';
import type { StackInfo } from '../dev/stack-info';

export const ENGINES = ['dev', 'cluster'] as const;
export type Engine = (typeof ENGINES)[number];

export const ENGINE_LABEL: Record<Engine, string> = {
  dev: 'dev server (SQLite, 1 shard)',
  cluster: 'cluster (2 nodes, Postgres, 4 shards)',
};

export interface ClusterEngine {
  temporal: StackInfo['temporal'];
  nodes: TemporalCluster['nodes'];
  /** SIGKILLs node `index`; resolves once it is gone (its supervisor starts it again after its backoff). */
  killNode(index: number): Promise<void>;
  /** Resolves once node `index` serves again. */
  nodeServing(index: number): Promise<void>;
  stop(): Promise<void>;
}

/** A Temporal cluster for the bench on the Postgres server at `databaseUrl`, its state under `dataDir`/cluster. */
export async function startClusterEngine(opts: { databaseUrl: string; dataDir: string; log: (line: string) => void }): Promise<ClusterEngine> {
  const [frontendPort, uiPort] = await findFreePorts(2);
  const nodePortBase = await freeNodePortBase();
  const pids = new Map<string, number | undefined>();
  const cluster = await startTemporalCluster({
    dataDir: path.join(opts.dataDir, 'cluster'),
    databaseUrl: opts.databaseUrl,
    frontendPort: frontendPort!,
    uiPort: uiPort!,
    nodePortBase,
    metricsPort: nodePortBase + 10,
    log: opts.log,
    onPid: (name, pid) => pids.set(name, pid),
  });
  const node = (index: number) => {
    const n = cluster.nodes[index];
    if (!n) throw new Error(`the cluster has no node ${index}`);
    return n;
  };
  return {
    temporal: { address: cluster.address, namespace: cluster.namespace, uiUrl: cluster.uiUrl },
    nodes: cluster.nodes,
    async killNode(index) {
      const { name } = node(index);
      const pid = pids.get(name);
      if (pid === undefined) throw new Error(`${name} is not running`);
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 30_000;
      while (pids.get(name) === pid) {
        if (Date.now() > deadline) throw new Error(`${name} (pid ${pid}) did not die`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async nodeServing(index) {
      const { name, frontend } = node(index);
      const deadline = Date.now() + 120_000;
      while (pids.get(name) === undefined) {
        if (Date.now() > deadline) throw new Error(`${name} was not started again`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await waitForHealth(frontend);
    },
    stop: () => cluster.stop(),
  };
}
