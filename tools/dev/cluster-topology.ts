/**
 * The production topology's fixed facts, in one place: `npm run start:cluster` (tools/dev/start.ts
 * --topology=cluster) runs them, docker-compose.yml states them again in its own syntax, and
 * test/ops/compose.test.ts checks that both say the same (server and UI versions, config files,
 * shard count, nodes).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, TEMPORAL_CONFIG_DIR, TOOLS_DIR } from './paths';

/** Temporal server release of both nodes (scripts/tools.sh builds it; compose runs its image). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
/** Temporal Web UI server release (scripts/tools.sh builds it; compose runs its image). */
export const TEMPORAL_UI_VERSION = '2.42.1';

/** One node's server config, a template the server renders from its environment. */
export const SERVER_CONFIG_TEMPLATE = path.join(TEMPORAL_CONFIG_DIR, 'server.yaml');
/** Dynamic config of the cluster (the dev server has its own, dynamic-config.yaml). */
export const CLUSTER_DYNAMIC_CONFIG = path.join(TEMPORAL_CONFIG_DIR, 'dynamic-config.cluster.yaml');
/** The custom search attributes, registered by NAMESPACE_SETUP_SCRIPT. */
export const SEARCH_ATTRIBUTES_FILE = path.join(TEMPORAL_CONFIG_DIR, 'search-attributes.json');
/** Creates the namespace and the search attributes with the temporal CLI (compose's temporal-setup runs it too). */
export const NAMESPACE_SETUP_SCRIPT = path.join(REPO_ROOT, 'deploy', 'temporal', 'setup-namespace.sh');

/** Where scripts/tools.sh copies the server's Postgres schemas (from its Go module source). */
export const TEMPORAL_SCHEMA_DIR = path.join(TOOLS_DIR, 'temporal-schema', 'postgresql', 'v12');
export const TEMPORAL_SQL_PLUGIN = 'postgres12';
export const TEMPORAL_DATABASES = { temporal: 'temporal', visibility: 'temporal_visibility' } as const;

/** The server nodes: each one's membership and services on its own loopback address. */
export const TEMPORAL_NODE_IPS = ['127.0.0.2', '127.0.0.3'] as const;

/** API processes and workers the cluster runs. */
export const CLUSTER_API_COUNT = 2;
export const CLUSTER_WORKER_COUNT = 2;

/** persistence.numHistoryShards of the config template (fixed for the life of a cluster's data). */
export function numHistoryShards(template = SERVER_CONFIG_TEMPLATE): number {
  const m = /^\s*numHistoryShards:\s*(\d+)\s*$/m.exec(fs.readFileSync(template, 'utf8'));
  if (!m) throw new Error(`${template}: no literal persistence.numHistoryShards`);
  return Number(m[1]);
}
