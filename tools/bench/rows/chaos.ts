/**
 * What the chaos rows (C1–C4) share. Each row runs one mixed workload twice on the same service
 * in the same bench run: once clean (the floor: each kind of job's clean median duration), then
 * with its failure. It reports:
 *  - completion: jobs succeeded / jobs offered (a client retries a POST that failed with a
 *    network error or 5xx with the same Idempotency-Key, as a well-behaved client would);
 *  - the extra delay of each job the failure hit: its time from first POST to completion minus
 *    the clean median of its kind. "Hit": in flight (POSTed, not yet complete) at the moment of a
 *    kill, or during an outage window (kill until the component answers again);
 *  - provider predictions per job, and orphans: predictions no job row references (billed for
 *    nothing) or still starting/processing once every job finished. Counted with the local
 *    provider's GET /v1/predictions (its /admin/stats counters restart from 0 with the process);
 *    predictions are matched to jobs by their prompt, unique per job;
 *  - whether the credit ledger is exact for the row's users: nothing left reserved, the balance
 *    counters equal the ledger's sums (src/credits/ledger.ts getBalance, ledgerBalance), and
 *    balance = bought − spent where spent is what the jobs say they cost.
 * Goals are judged, never asserted, like every row (tools/bench/rows/chaos-judge.ts).
 *
 * The rows run on their own Postgres and Temporal (tools/bench/chaos-stack.ts), their own local provider
 * process (tools/bench/provider-process.ts) and one service with two workers on one task queue.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { waitUntil } from '../../dev/processes';
import { startChaosStack, type ChaosStack } from '../chaos-stack';
import type { BenchContext } from '../context';
import { cpuMeter } from '../proc';
import { startProviderProcess, type ProviderProcess } from '../provider-process';
import type { RowResult } from '../report';
import { startService, type BenchUser, type Service } from '../service';
import { round, sleep } from '../stats';
import { CHAOS_GOAL, judge } from './chaos-judge';
import { cpuGroups, emptyRow, TERMINAL } from './common';

export interface ChaosEnv {
  /** The bench context on the chaos stack (its Temporal client, data dir). */
  ctx: BenchContext;
  stack: ChaosStack;
  provider: ProviderProcess;
  svc: Service;
  /** Clean runs by workload name, so rows with the same workload (C3, C4) share one. */
  cleanRuns: Map<string, PhaseResult>;
  stop(): Promise<void>;
}

/** The chaos stack, the provider process, and the service (API + 2 workers) on them. */
export async function startChaosEnv(base: BenchContext): Promise<ChaosEnv> {
  const [stack, provider] = await Promise.all([startChaosStack(base), startProviderProcess(base, 'chaos-provider')]);
  const ctx: BenchContext = { ...base, stack: stack.info, stackDataDir: stack.dataDir, temporal: stack.temporal };
  let svc: Service;
  try {
    svc = await startService(ctx, 'chaos', { REPLICATE_WEBHOOK_SECRET: provider.webhookSecret }, { workers: 2, replicateApiBaseUrl: provider.apiBaseUrl });
  } catch (err) {
    await Promise.all([provider.stop(), stack.stop()]);
    throw err;
  }
  return {
    ctx,
    stack,
    provider,
    svc,
    cleanRuns: new Map(),
    async stop() {
      await svc.stop();
      await Promise.all([provider.stop(), stack.stop()]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

export interface JobSpec {
  /** The kind of job: its clean median is the baseline of every job of that kind. */
  kind: string;
  body: Record<string, unknown>;
}

const FLUX = 'black-forest-labs/flux-schnell';
const SDXL = 'stability-ai/sdxl';
const small = { width: 256, height: 256 };

/** Several models and output counts; a few slower ones (the local provider's fake_latency_ms). */
const MIX: JobSpec[] = [
  { kind: 'flux ×1', body: { model: FLUX, num_outputs: 1, output_format: 'webp', parameters: small } },
  { kind: 'flux ×3', body: { model: FLUX, num_outputs: 3, output_format: 'webp', parameters: small } },
  { kind: 'sdxl ×2', body: { model: SDXL, num_outputs: 2, output_format: 'webp', parameters: small } },
  { kind: 'musicgen 1 s', body: { model: 'meta/musicgen', parameters: { duration: 1 } } },
  { kind: 'flux ×1, 4 s model', body: { model: FLUX, num_outputs: 1, output_format: 'webp', parameters: { ...small, fake_latency_ms: 4000 } } },
  { kind: 'sdxl ×1, 8 s model', body: { model: SDXL, num_outputs: 1, output_format: 'webp', parameters: { ...small, fake_latency_ms: 8000 } } },
];

export function mixedWorkload(jobs: number): JobSpec[] {
  return Array.from({ length: jobs }, (_, i) => MIX[i % MIX.length]!);
}

// ---------------------------------------------------------------------------------------------
// One run of a workload (clean or with a failure)
// ---------------------------------------------------------------------------------------------

/** A failure as it happened: [at, until] in ms since the phase started (until = at for a kill). */
export interface Incident {
  what: string;
  at: number;
  until: number;
}

export interface JobOutcome {
  index: number;
  kind: string;
  prompt: string;
  userId: string;
  jobId?: string;
  /** ms since the phase started: the first POST. */
  submittedAt: number;
  /** POSTs answered with a network error or 5xx before the job was accepted. */
  failedPosts: number;
  status?: string;
  /** ms since the phase started (from the job row). */
  completedAt?: number;
  providerPredictionId?: string | null;
  creditsSpent?: number | null;
}

export interface PhaseResult {
  label: string;
  startedAtMs: number;
  jobs: JobOutcome[];
  incidents: Incident[];
  /** API GETs made while the phase ran, one every `getEveryMs`: ms since start and the answer's status (0 = no answer). */
  gets: Array<{ t: number; status: number }>;
  getEveryMs: number;
  users: BenchUser[];
  /** ms since start when every job was final, or when the wait gave up. */
  endedAt: number;
  timedOut: boolean;
}

/** What a row's failure gets while the phase runs. */
export interface PhaseControl {
  /** ms since the phase started. */
  now(): number;
  /** Records a failure window (see Incident). */
  incident(what: string, at: number, until?: number): void;
  /** Job ids accepted so far. */
  acceptedIds(): string[];
}

/** How often the bench GETs the job list while a phase runs (to see what the API answers during an outage). */
const GET_EVERY_MS = 100;

export interface PhaseOptions {
  label: string;
  specs: JobSpec[];
  /** The POSTs are spread evenly over this long (0: all at once). */
  submitOverMs: number;
  /** The failure, run alongside the submissions; the phase waits for it before waiting for the jobs. */
  inject?: (control: PhaseControl) => Promise<void>;
  /** How long to wait for the jobs to be final after the submissions and the failure are over. */
  settleTimeoutMs: number;
}

export async function runPhase(env: ChaosEnv, opts: PhaseOptions): Promise<PhaseResult> {
  const { svc, ctx } = env;
  const users = await Promise.all([svc.createUser(), svc.createUser()]);
  const t0 = performance.now();
  const startedAtMs = Date.now();
  const now = () => performance.now() - t0;
  const tag = randomUUID().slice(0, 6);
  const jobs: JobOutcome[] = opts.specs.map((spec, index) => ({
    index,
    kind: spec.kind,
    prompt: `bench ${opts.label} ${tag} job ${index}: a lighthouse at dusk`,
    userId: users[index % users.length]!.id,
    submittedAt: NaN,
    failedPosts: 0,
  }));
  const incidents: Incident[] = [];
  const gets: PhaseResult['gets'] = [];

  const watcher = watchApi(svc, jobs, users, now, gets);
  const submitDeadline = opts.submitOverMs + opts.settleTimeoutMs;
  const submitOne = async (job: JobOutcome) => {
    job.submittedAt = now();
    const body = { ...opts.specs[job.index]!.body, prompt: job.prompt };
    const headers = { ...users[job.index % users.length]!.headers, 'idempotency-key': `bench-${tag}-${job.index}` };
    while (now() < submitDeadline && !job.jobId) {
      job.jobId = await postJob(svc, body, headers, job.kind);
      if (!job.jobId) {
        job.failedPosts++;
        await sleep(250);
      }
    }
  };
  const submissions = (async () => {
    const interval = opts.specs.length > 1 ? opts.submitOverMs / (opts.specs.length - 1) : 0;
    const pending: Promise<void>[] = [];
    for (const job of jobs) {
      const wait = job.index * interval - now();
      if (wait > 1) await sleep(wait);
      pending.push(submitOne(job));
    }
    await Promise.all(pending);
  })();
  const control: PhaseControl = {
    now,
    incident: (what, at, until = at) => {
      incidents.push({ what, at, until });
      ctx.log(`  ${opts.label}: ${what} at +${round(at / 1000)} s${until > at ? `, back after ${round((until - at) / 1000)} s` : ''}`);
    },
    acceptedIds: () => jobs.flatMap((j) => (j.jobId ? [j.jobId] : [])),
  };
  try {
    await Promise.all([submissions, opts.inject?.(control)]);
    const settled = await waitFinal(env, jobs, opts.settleTimeoutMs, ctx.log);
    await readOutcomes(svc, jobs, startedAtMs);
    return { label: opts.label, startedAtMs, jobs, incidents, gets, getEveryMs: GET_EVERY_MS, users, endedAt: now(), timedOut: !settled };
  } finally {
    await watcher.stop();
  }
}

/** POST /api/v1/generate once: the job id on 202, undefined on a network error or 5xx (retry), throws on any other answer. */
async function postJob(svc: Service, body: object, headers: Record<string, string>, kind: string): Promise<string | undefined> {
  let res;
  try {
    res = await svc.http.json('POST', '/api/v1/generate', { json: body, headers, timeoutMs: 15_000 });
  } catch {
    return undefined;
  }
  if (res.status === 202) return res.body.job_id as string;
  if (res.status >= 500) return undefined;
  throw new Error(`POST /api/v1/generate (${kind}) answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
}

/**
 * GETs the job list of the first accepted job's user (before that, the balance) every GET_EVERY_MS,
 * recording each answer's status (0: none). Both read the database every time; a finished job's
 * GET /status may be answered from the API's memory (src/jobs/finished-views.ts).
 */
function watchApi(svc: Service, jobs: JobOutcome[], users: BenchUser[], now: () => number, gets: PhaseResult['gets']) {
  let done = false;
  const loop = (async () => {
    while (!done) {
      const accepted = jobs.find((j) => j.jobId);
      const pathname = accepted ? '/api/v1/jobs?limit=5' : '/api/v1/balance';
      const headers = users[accepted ? accepted.index % users.length : 0]!.headers;
      const t = now();
      try {
        gets.push({ t, status: (await svc.http.request('GET', pathname, { headers, timeoutMs: 5000 })).status });
      } catch {
        gets.push({ t, status: 0 });
      }
      await sleep(GET_EVERY_MS);
    }
  })();
  return {
    async stop() {
      done = true;
      await loop;
    },
  };
}

/** Waits until every accepted job is final (database errors, e.g. during C3's outage, are retried); false on timeout. */
async function waitFinal(env: ChaosEnv, jobs: JobOutcome[], timeoutMs: number, log: (l: string) => void): Promise<boolean> {
  const ids = jobs.flatMap((j) => (j.jobId ? [j.jobId] : []));
  const deadline = Date.now() + timeoutMs;
  let lastLog = Date.now();
  while (Date.now() < deadline) {
    try {
      const open = await env.svc.db.job.count({ where: { id: { in: ids }, status: { notIn: [...TERMINAL] as never } } });
      if (open === 0) return true;
      if (Date.now() - lastLog > 15_000) {
        lastLog = Date.now();
        log(`  ${ids.length - open}/${ids.length} jobs final`);
      }
    } catch {
      /* the database is restarting: ask again */
    }
    await sleep(250);
  }
  return false;
}

async function readOutcomes(svc: Service, jobs: JobOutcome[], startedAtMs: number): Promise<void> {
  const ids = jobs.flatMap((j) => (j.jobId ? [j.jobId] : []));
  const rows = await svc.db.job.findMany({ where: { id: { in: ids } }, select: { id: true, status: true, completedAt: true, providerPredictionId: true, creditsSpent: true } });
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const job of jobs) {
    const row = job.jobId ? byId.get(job.jobId) : undefined;
    if (!row) continue;
    job.status = row.status;
    job.providerPredictionId = row.providerPredictionId;
    job.creditsSpent = row.creditsSpent;
    if (row.completedAt && TERMINAL.has(row.status)) job.completedAt = row.completedAt.getTime() - startedAtMs;
  }
}

/** Runs the workload clean once per workload name and service (the rows' floor). */
export async function cleanRun(env: ChaosEnv, name: string, opts: Omit<PhaseOptions, 'label' | 'inject'>): Promise<PhaseResult> {
  const known = env.cleanRuns.get(name);
  if (known) return known;
  env.ctx.log(`  clean run of the ${name} workload (${opts.specs.length} jobs)`);
  const run = await runPhase(env, { ...opts, label: `${name} clean` });
  env.cleanRuns.set(name, run);
  return run;
}


/** A chaos row: the clean run (shared per workload), the run with the failure, the verdict; CPU while it ran. */
export async function chaosRow(
  env: ChaosEnv,
  row: RowResult,
  workload: { name: string; specs: JobSpec[]; submitOverMs: number; settleTimeoutMs: number },
  inject: (control: PhaseControl) => Promise<void>,
  /** Row-specific figures (set on `row.figures`) and notes, once the run is judged. */
  after: (run: PhaseResult, row: RowResult) => string[] = () => [],
): Promise<RowResult> {
  const clean = await cleanRun(env, workload.name, workload);
  const groups = () => ({ ...cpuGroups(env.ctx, env.svc)(), provider: [env.provider.proc.pid] });
  const cpu = cpuMeter(groups);
  const run = await runPhase(env, { ...workload, label: row.id, inject });
  row.cpu = cpu.stop();
  await judge(env, row, clean, run);
  row.notes.splice(1, 0, ...after(run, row));
  return row;
}

export function chaosEmptyRow(id: string, what: string): RowResult {
  return emptyRow(id, what, CHAOS_GOAL);
}

/** Waits until the service's API answers /health again (after a restart). */
export function apiAnswers(svc: Service): Promise<boolean> {
  return waitUntil(async () => (await svc.http.request('GET', '/health', { timeoutMs: 1000 })).status === 200 || false, {
    what: 'the API after its restart',
    timeoutMs: 90_000,
    intervalMs: 100,
    proc: svc.api,
  });
}
