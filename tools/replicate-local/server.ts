/**
 * A local server speaking Replicate's HTTP API (as used by the `replicate` npm client 1.4.0),
 * for development and tests:
 *
 *   const local = await startLocalReplicate({ knobs: { latency_ms: 50 } });
 *   const replicate = new Replicate({ auth: 'anything', baseUrl: local.apiBaseUrl });
 *
 * - /v1: predictions (by version or model; `Prefer: wait[=N]` holds the create response until the
 *   prediction is terminal or N (max 60) seconds passed), models, versions, trainings, default webhook secret.
 *   GET /v1/predictions and /v1/trainings list newest first with `created_after` / `created_before`
 *   and Replicate's cursor pages (`{ next, previous, results }`).
 * - /files/{job id}/{name}: generated outputs (real images/WAVs), deleted after `output_retention_ms`.
 * - /admin/knobs (GET, POST merge) and /admin/stats: test controls, no auth.
 * Per-job input fields `fake_latency_ms` and `fake_error` override the latency and force a failure.
 *
 * State lives in memory unless `dataDir` is given. With it, jobs, output files, created models and the
 * webhook secret are kept on disk (see data-dir.ts), and a server started again on the same folder
 * carries on like Replicate would: running jobs finish on their original schedule and send their
 * webhooks, undelivered terminal webhooks are resent, expired outputs stay expired. Output URLs are
 * absolute, so restart on the same port (or `publicBaseUrl`) to keep them valid. Knobs and stats are
 * not kept.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app';
import type { ServerContext } from './context';
import { DataDir } from './data-dir';
import { resumeJobs } from './job-resume';
import { DEFAULT_KNOBS, parseKnobsPatch, updateKnobs, type Knobs } from './knobs';
import { silentLogger, type Logger } from './logger';
import { ModelRegistry } from './models';
import { createStats, type Stats } from './stats';
import { JobStore } from './store';
import { newWebhookSecret, WebhookSender } from './webhooks';

export type { Knobs } from './knobs';
export type { Stats } from './stats';
export { BUILTIN_MODELS, builtinVersionId } from './models';
export { SIMULATED_FAILURE } from './predictions';
export { signWebhook } from './webhooks';

export interface LocalReplicateOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (the default) = any free port. */
  port?: number;
  /** Base URL of output file URLs; default http://host:port. */
  publicBaseUrl?: string;
  /** "whsec_" + base64; if absent, a random 32-byte secret (generated once per `dataDir`). */
  webhookSecret?: string;
  /** Folder for jobs, output files, models and the webhook secret, kept across restarts; in memory if absent. */
  dataDir?: string;
  /** Initial global knobs (over the defaults). */
  knobs?: Partial<Knobs>;
  logger?: Logger;
}

export interface LocalReplicate {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + '/v1': pass as `baseUrl` to `new Replicate(...)`. */
  apiBaseUrl: string;
  webhookSecret: string;
  /** The live knobs (read-only view; change them with setKnobs or POST /admin/knobs). */
  knobs: Knobs;
  setKnobs(knobs: Partial<Knobs>): void;
  /** A snapshot of the counters. */
  stats(): Stats;
  close(): Promise<void>;
}

/** How often expired prediction outputs (and, in a data folder, old job records) are purged; outputs are also checked on every access. */
const SWEEP_INTERVAL_MS = 1000;

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Wildcard listen addresses are reached via loopback; IPv6 literals need brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Starts the local Replicate-compatible server. */
export async function startLocalReplicate(opts: LocalReplicateOptions = {}): Promise<LocalReplicate> {
  const knobs: Knobs = { ...DEFAULT_KNOBS, ...parseKnobsPatch(opts.knobs ?? {}) };
  const stats = createStats();
  const logger = opts.logger ?? silentLogger;
  const dataDir = opts.dataDir === undefined ? undefined : new DataDir(opts.dataDir, logger);
  const webhookSecret = opts.webhookSecret ?? dataDir?.webhookSecret(newWebhookSecret) ?? newWebhookSecret();
  const store = new JobStore({ outputRetentionMs: () => knobs.output_retention_ms, dataDir });
  const registry = new ModelRegistry();
  if (dataDir) registry.restore(dataDir.readModels(), () => dataDir.writeModels(registry.snapshot()));
  const host = opts.host ?? '127.0.0.1';
  const server = createServer();
  const port = await listen(server, opts.port ?? 0, host);
  const url = `http://${urlHost(host)}:${port}`;
  const ctx: ServerContext = {
    knobs,
    stats,
    registry,
    store,
    webhooks: new WebhookSender({ secret: webhookSecret, knobs, stats, logger }),
    logger,
    webhookSecret,
    apiBaseUrl: `${url}/v1`,
    publicBaseUrl: (opts.publicBaseUrl ?? url).replace(/\/+$/, ''),
  };
  server.on('request', createApp(ctx));
  resumeJobs(ctx, store.load());
  const sweeper = setInterval(() => store.sweep(), SWEEP_INTERVAL_MS);
  sweeper.unref();
  return {
    url,
    apiBaseUrl: ctx.apiBaseUrl,
    webhookSecret,
    knobs,
    setKnobs: (patch) => void updateKnobs(knobs, patch),
    stats: () => ({ ...stats }),
    close: async () => {
      clearInterval(sweeper);
      store.close();
      await ctx.webhooks.close();
      await closeServer(server);
    },
  };
}
