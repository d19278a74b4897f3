/**
 * The local Replicate server as its own process (tools/replicate-local/main.ts), for the chaos rows:
 * C2 kills it with the rest of the service and starts it again on the same port and data folder
 * (REPLICATE_LOCAL_DATA_DIR), where it carries on with the predictions it had, as Replicate would
 * after our side crashed. Its counters (/admin/stats) start from zero on every start, so the rows
 * count predictions with its list endpoint (GET /v1/predictions), which survives restarts.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../dev/paths';
import { findFreePorts } from '../dev/ports';
import { spawnManaged, waitUntil, type ManagedProcess } from '../dev/processes';
import type { BenchContext } from './context';
import { benchDataDir } from './data-dir';

/** What the rows read of a prediction. */
export interface ProviderPrediction {
  id: string;
  status: string;
  created_at: string;
  input: Record<string, unknown>;
  webhook?: string;
}

export interface ProviderProcess {
  url: string;
  apiBaseUrl: string;
  webhookSecret: string;
  /** The process as it runs now (a restart replaces it). */
  readonly proc: ManagedProcess;
  /** Starts it again after it died (same port, data folder, secret and knobs); resolves once it answers. */
  restart(): Promise<void>;
  /** Every prediction created at or after `since`, newest first (all pages). */
  predictionsSince(since: Date): Promise<ProviderPrediction[]>;
  stop(): Promise<void>;
}

/** Model latency when the input names none (`fake_latency_ms` overrides it per job). */
const LATENCY_MS = 1000;

export async function startProviderProcess(ctx: BenchContext, name: string): Promise<ProviderProcess> {
  const [port] = await findFreePorts(1);
  const dataDir = benchDataDir('imagegen-provider-');
  const url = `http://127.0.0.1:${port}`;
  const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
  const spawn = (truncateLog: boolean) =>
    spawnManaged({
      name,
      command: process.execPath,
      args: ['--import', 'tsx', 'tools/replicate-local/main.ts'],
      env: {
        ...process.env,
        REPLICATE_LOCAL_PORT: String(port),
        REPLICATE_LOCAL_DATA_DIR: dataDir,
        REPLICATE_LOCAL_WEBHOOK_SECRET: webhookSecret,
        REPLICATE_LOCAL_LATENCY_MS: String(LATENCY_MS),
      },
      cwd: REPO_ROOT,
      logFile: path.join(ctx.runDir, `${name}.log`),
      truncateLog,
    });
  const ready = (proc: ManagedProcess) =>
    waitUntil(async () => (await fetch(`${url}/admin/stats`, { signal: AbortSignal.timeout(1000) })).ok || false, {
      what: `the local provider on ${url}`,
      timeoutMs: 60_000,
      intervalMs: 50,
      proc,
    });
  let proc = spawn(true);
  const stop = async () => {
    await proc.stop(10_000);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await ready(proc);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    apiBaseUrl: `${url}/v1`,
    webhookSecret,
    get proc() {
      return proc;
    },
    async restart() {
      if (!proc.exited) throw new Error(`${name} (pid ${proc.pid}) is still running`);
      proc = spawn(false);
      await ready(proc);
    },
    async predictionsSince(since) {
      const out: ProviderPrediction[] = [];
      let next: string | null = `${url}/v1/predictions?created_after=${encodeURIComponent(since.toISOString())}`;
      while (next) {
        const res = await fetch(next, { headers: { authorization: 'Bearer r8_bench' } });
        if (!res.ok) throw new Error(`GET ${next} answered ${res.status}`);
        const page = (await res.json()) as { next: string | null; results: ProviderPrediction[] };
        out.push(...page.results);
        next = page.next;
      }
      return out;
    },
    stop,
  };
}
