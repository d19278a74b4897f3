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
 * Goals are judged, never asserted, like every row.
 *
 * The rows run on their own Postgres and Temporal (bench/chaos-stack.ts), their own local provider
 * process (bench/provider-process.ts) and one service with two workers on one task queue.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { tsToMs } from '@temporalio/common/lib/time';
import { getBalance, ledgerBalance } from '../../src/credits/ledger';
import { waitUntil } from '../../src/dev/processes';
import { workflowIds } from '../../src/temporal/names';
import { startChaosStack, type ChaosStack } from '../chaos-stack';
import type { BenchContext } from '../context';
import { cpuMeter } from '../proc';
import { startProviderProcess, type ProviderPrediction, type ProviderProcess } from '../provider-process';
import type { RowResult } from '../report';
import { startService, type BenchUser, type Service } from '../service';
import { percentile, round, sleep } from '../stats';
import { cpuGroups, describeUnfinished, emptyRow, TERMINAL } from './common';

export const CHAOS_GOAL = '100% of jobs succeed; worst extra delay per hit job ≤ 20 s; 0 duplicate or orphaned predictions; ledger exact';
const MAX_EXTRA_DELAY_S = 20;

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
  /** API GETs made while the phase ran: ms since start and the answer's status (0 = no answer). */
  gets: Array<{ t: number; status: number }>;
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

/** How often the bench GETs a job's status while a phase runs (to see what the API answers during an outage). */
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
  let done = false;

  const getter = (async () => {
    while (!done) {
      const accepted = jobs.find((j) => j.jobId);
      const user = users[0]!;
      const pathname = accepted ? `/api/v1/status/${accepted.jobId}` : '/api/v1/balance';
      const headers = accepted ? users[accepted.index % users.length]!.headers : user.headers;
      const t = now();
      try {
        gets.push({ t, status: (await svc.http.request('GET', pathname, { headers, timeoutMs: 5000 })).status });
      } catch {
        gets.push({ t, status: 0 });
      }
      await sleep(GET_EVERY_MS);
    }
  })();

  const submitDeadline = opts.submitOverMs + opts.settleTimeoutMs;
  const submitOne = async (job: JobOutcome) => {
    const spec = opts.specs[job.index]!;
    const user = users[job.index % users.length]!;
    const key = `bench-${tag}-${job.index}`;
    job.submittedAt = now();
    while (now() < submitDeadline) {
      try {
        const res = await svc.http.json('POST', '/api/v1/generate', {
          json: { ...spec.body, prompt: job.prompt },
          headers: { ...user.headers, 'idempotency-key': key },
          timeoutMs: 15_000,
        });
        if (res.status === 202) {
          job.jobId = res.body.job_id;
          return;
        }
        if (res.status < 500) throw new Error(`POST /api/v1/generate (${spec.kind}) answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
      } catch (err) {
        if ((err as Error).message.startsWith('POST /api/v1/generate (')) throw err;
      }
      job.failedPosts++;
      await sleep(250);
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
    return { label: opts.label, startedAtMs, jobs, incidents, gets, users, endedAt: now(), timedOut: !settled };
  } finally {
    done = true;
    await getter;
  }
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

// ---------------------------------------------------------------------------------------------
// Judging a run against its clean run
// ---------------------------------------------------------------------------------------------

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const seconds = (ms: number) => round(ms / 1000, 1);

interface Predictions {
  total: number;
  perJob: number;
  /** Creates beyond the first of a job. */
  duplicates: number;
  /** No job row names them (billed for nothing). */
  unreferenced: number;
  /** Still starting/processing once every job was final. */
  stillRunning: number;
  /** unreferenced ∪ still running. */
  orphans: number;
}

async function countPredictions(provider: ProviderProcess, run: PhaseResult): Promise<Predictions> {
  const list: ProviderPrediction[] = await provider.predictionsSince(new Date(run.startedAtMs - 1000));
  const byPrompt = new Map(run.jobs.map((j) => [j.prompt, j]));
  const mine = list.filter((p) => byPrompt.has(String(p.input.prompt ?? '')));
  const referenced = new Set(run.jobs.flatMap((j) => (j.providerPredictionId ? [j.providerPredictionId] : [])));
  const perPrompt = new Map<string, number>();
  for (const p of mine) perPrompt.set(String(p.input.prompt), (perPrompt.get(String(p.input.prompt)) ?? 0) + 1);
  const orphans = mine.filter((p) => !referenced.has(p.id) || p.status === 'starting' || p.status === 'processing');
  return {
    total: mine.length,
    perJob: mine.length / Math.max(1, run.jobs.length),
    duplicates: [...perPrompt.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
    unreferenced: mine.filter((p) => !referenced.has(p.id)).length,
    stillRunning: mine.filter((p) => p.status === 'starting' || p.status === 'processing').length,
    orphans: orphans.length,
  };
}

interface Ledger {
  exact: boolean;
  problems: string[];
}

/** Per user: nothing reserved, counters = ledger sums, balance = bought − spent (spent as the jobs say). */
async function checkLedger(svc: Service, run: PhaseResult): Promise<Ledger> {
  const problems: string[] = [];
  for (const user of run.users) {
    const [counters, ledger, sums] = await Promise.all([
      getBalance(svc.db, user.id),
      ledgerBalance(svc.db, user.id),
      svc.db.creditLedger.groupBy({ by: ['movement'], where: { userId: user.id }, _sum: { credits: true } }),
    ]);
    const sum = (m: string) => sums.find((r) => r.movement === m)?._sum.credits ?? 0;
    const jobsSpent = run.jobs.filter((j) => j.userId === user.id).reduce((n, j) => n + (j.creditsSpent ?? 0), 0);
    const who = `user ${user.id.slice(0, 8)}`;
    if (counters.reserved !== 0) problems.push(`${who}: ${counters.reserved} credits still reserved`);
    if (counters.credits !== ledger.credits || counters.reserved !== ledger.reserved) {
      problems.push(`${who}: counters ${counters.credits}/${counters.reserved} ≠ ledger ${ledger.credits}/${ledger.reserved} (credits/reserved)`);
    }
    if (counters.credits !== sum('topup') - jobsSpent) problems.push(`${who}: balance ${counters.credits} ≠ bought ${sum('topup')} − spent by its jobs ${jobsSpent}`);
    if (sum('commit') !== jobsSpent) problems.push(`${who}: ledger commits ${sum('commit')} ≠ credits its jobs spent ${jobsSpent}`);
  }
  return { exact: problems.length === 0, problems };
}

function wasHit(job: JobOutcome, incidents: Incident[], endedAt: number): boolean {
  const end = job.completedAt ?? endedAt;
  return incidents.some((i) => job.submittedAt <= i.until && end >= i.at);
}

/** After an outage the API's pooled connections may still fail once each: its answers are counted this long after it, too. */
const AFTER_OUTAGE_MS = 5000;

/**
 * The API's answers to the status GETs made during the outages and the AFTER_OUTAGE_MS after
 * them, by status: set as figures on the row (503 is the right answer while a dependency is
 * down, 500 is not) and described in a note.
 */
export function outageGets(run: PhaseResult, row: RowResult, what: string): string {
  const counts: Record<string, number> = {};
  for (const g of run.gets) {
    if (run.incidents.some((i) => g.t >= i.at && g.t <= i.until + AFTER_OUTAGE_MS)) counts[g.status] = (counts[g.status] ?? 0) + 1;
  }
  row.figures.outage_gets = Object.values(counts).reduce((a, b) => a + b, 0);
  row.figures.outage_gets_503 = counts['503'] ?? 0;
  row.figures.outage_gets_500 = counts['500'] ?? 0;
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  const text = entries.length ? entries.map(([s, n]) => `${n}× ${s === '0' ? 'no answer' : s}`).join(', ') : 'none made';
  return `API GETs of a job's status (one every ${GET_EVERY_MS} ms) while ${what} and the ${AFTER_OUTAGE_MS / 1000} s after: ${text}.`;
}

/** The row: figures, floor (the clean run), verdict, and notes on what bounds any miss. */
export async function judge(env: ChaosEnv, row: RowResult, clean: PhaseResult, run: PhaseResult): Promise<RowResult> {
  const cleanByKind = new Map<string, number>();
  for (const kind of new Set(clean.jobs.map((j) => j.kind))) {
    cleanByKind.set(kind, median(clean.jobs.filter((j) => j.kind === kind && j.completedAt !== undefined).map((j) => j.completedAt! - j.submittedAt)));
  }
  const succeeded = run.jobs.filter((j) => j.status === 'succeeded').length;
  const hit = run.jobs.filter((j) => wasHit(j, run.incidents, run.endedAt));
  const unfinished = hit.filter((j) => j.completedAt === undefined);
  // an unfinished job's delay is at least its time so far (a lower bound); a hit job that
  // finished faster than the clean median of its kind was delayed by nothing
  const extraOf = (j: JobOutcome) => Math.max(0, (j.completedAt ?? run.endedAt) - j.submittedAt - (cleanByKind.get(j.kind) ?? 0));
  const extras = hit.map(extraOf);
  const hitClean = hit.map((j) => cleanByKind.get(j.kind) ?? NaN).filter(Number.isFinite);
  const maxExtra = extras.length ? Math.max(...extras) : 0;
  const p50Extra = extras.length ? median(extras) : 0;
  const cleanDurations = clean.jobs.filter((j) => j.completedAt !== undefined).map((j) => j.completedAt! - j.submittedAt);
  const cleanSucceeded = clean.jobs.filter((j) => j.status === 'succeeded').length;
  const [preds, cleanPreds, ledger] = await Promise.all([countPredictions(env.provider, run), countPredictions(env.provider, clean), checkLedger(env.svc, run)]);
  const failedPosts = run.jobs.reduce((n, j) => n + j.failedPosts, 0);

  row.figures = {
    jobs: run.jobs.length,
    succeeded,
    completion_pct: round((succeeded / run.jobs.length) * 100, 1),
    hit_jobs: hit.length,
    hit_unfinished: unfinished.length,
    extra_delay_max_s: seconds(maxExtra),
    extra_delay_p50_s: seconds(p50Extra),
    hit_jobs_clean_p50_s: seconds(hitClean.length ? median(hitClean) : NaN),
    predictions: preds.total,
    predictions_per_job: round(preds.perJob, 2),
    duplicate_predictions: preds.duplicates,
    unreferenced_predictions: preds.unreferenced,
    predictions_still_running: preds.stillRunning,
    orphan_predictions: preds.orphans,
    ledger_exact: ledger.exact,
    posts_retried: failedPosts,
    incidents: run.incidents.length,
  };
  const lowerBound = unfinished.length ? '≥ ' : '';
  row.figureText =
    `${succeeded}/${run.jobs.length} succeeded; ${hit.length} jobs hit: extra delay max ${lowerBound}${seconds(maxExtra)} s, p50 ${seconds(p50Extra)} s ` +
    `(their clean time p50 ${seconds(hitClean.length ? median(hitClean) : NaN)} s); ` +
    `${round(preds.perJob, 2)} predictions/job (${preds.duplicates} duplicate), ${preds.orphans} orphaned; ledger ${ledger.exact ? 'exact' : 'OFF'}`;
  row.floor = {
    jobs: clean.jobs.length,
    succeeded: cleanSucceeded,
    p50_s: seconds(median(cleanDurations)),
    max_s: seconds(cleanDurations.length ? Math.max(...cleanDurations) : NaN),
    predictions_per_job: round(cleanPreds.perJob, 2),
  };
  row.floorText = `same workload clean: ${cleanSucceeded}/${clean.jobs.length} succeeded, per job p50 ${row.floor.p50_s} s, max ${row.floor.max_s} s; ${row.floor.predictions_per_job} predictions/job`;
  const hitRatios = hit.filter((j) => j.completedAt !== undefined && cleanByKind.get(j.kind)).map((j) => (j.completedAt! - j.submittedAt) / cleanByKind.get(j.kind)!);
  row.ratio = hitRatios.length ? round(median(hitRatios), 2) : null;
  row.ratioText = row.ratio === null ? '—' : `hit jobs ×${row.ratio} their clean time (p50)`;

  const findings: string[] = [];
  if (succeeded < run.jobs.length) {
    const notAccepted = run.jobs.filter((j) => !j.jobId).length;
    const byStatus = countBy(run.jobs.filter((j) => j.status !== 'succeeded').map((j) => j.status ?? 'never accepted'));
    findings.push(`${run.jobs.length - succeeded} jobs did not succeed (${Object.entries(byStatus).map(([s, n]) => `${n} ${s}`).join(', ')})${notAccepted ? `; ${notAccepted} POSTs never got a 202 in ${seconds(run.endedAt)} s` : ''}.`);
    const open = run.jobs.filter((j) => j.jobId && !TERMINAL.has(j.status ?? '')).map((j) => j.jobId!);
    if (open.length) findings.push(...(await describeUnfinished(env.ctx, env.svc, open, 3, env.provider.apiBaseUrl)));
    const failed = await env.svc.db.job.findMany({ where: { id: { in: run.jobs.flatMap((j) => (j.jobId ? [j.jobId] : [])) }, status: 'failed' }, take: 3, select: { id: true, errorCode: true, errorMessage: true } });
    for (const f of failed) findings.push(`job ${f.id} failed: ${f.errorCode} ${String(f.errorMessage ?? '').slice(0, 160)}.`);
  }
  const worst = hit.length ? hit.reduce((a, b) => (extraOf(a) >= extraOf(b) ? a : b)) : undefined;
  const worstText = worst
    ? `job ${worst.jobId ?? `#${worst.index}`} (${worst.kind}, POSTed at +${seconds(worst.submittedAt)} s${worst.completedAt === undefined ? ', not final when the wait ended' : `, done at +${seconds(worst.completedAt)} s`}` +
      `${worst.jobId ? `; its workflow: ${await historyEvidence(env.ctx, workflowIds.generationJob(worst.jobId))}` : ''})`
    : '';
  if (maxExtra > MAX_EXTRA_DELAY_S * 1000) findings.push(`Worst extra delay ${lowerBound}${seconds(maxExtra)} s > ${MAX_EXTRA_DELAY_S} s: ${worstText}.`);
  if (preds.duplicates || preds.orphans) {
    findings.push(`${preds.total} predictions for ${run.jobs.length} jobs: ${preds.duplicates} duplicate creates, ${preds.unreferenced} that no job row references, ${preds.stillRunning} still running after the jobs ended.`);
  }
  if (!ledger.exact) findings.push(`ledger: ${ledger.problems.slice(0, 4).join('; ')}.`);
  row.pass = findings.length === 0;
  if (row.pass && worst) findings.push(`Worst hit job: ${worstText}.`);
  row.notes = [
    `Failures: ${run.incidents.map((i) => `${i.what} at +${seconds(i.at)} s${i.until > i.at ? ` (back after ${seconds(i.until - i.at)} s)` : ''}`).join('; ')}.`,
    ...(failedPosts ? [`${failedPosts} POSTs failed (network error or 5xx) and were retried with the same Idempotency-Key.`] : []),
    ...findings,
  ];
  return row;
}

const TIMEOUT_TYPES: Record<number, string> = { 1: 'start-to-close', 2: 'schedule-to-start', 3: 'schedule-to-close', 4: 'heartbeat' };

/**
 * Where a job's time went after a failure, from its workflow history: activity timeouts and
 * failures (a retry waits for these), signals (the provider's webhook), workflow task timeouts (a
 * dead worker's sticky queue), with their times since the workflow started. The evidence for what
 * bounds a delay.
 */
async function historyEvidence(ctx: BenchContext, workflowId: string): Promise<string> {
  try {
    const history = await ctx.temporal.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    const start = tsToMs(events[0]?.eventTime);
    const at = (e: (typeof events)[number]) => `+${seconds(tsToMs(e.eventTime) - start)} s`;
    const activityName = new Map<string, string>();
    const out: string[] = [];
    for (const e of events) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) activityName.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      const timedOut = e.activityTaskTimedOutEventAttributes;
      if (timedOut) {
        const type = timedOut.failure?.timeoutFailureInfo?.timeoutType;
        out.push(`${activityName.get(String(timedOut.scheduledEventId)) ?? 'activity'} timed out (${TIMEOUT_TYPES[Number(type)] ?? 'timeout'}) at ${at(e)}`);
      }
      const failed = e.activityTaskFailedEventAttributes;
      if (failed) out.push(`${activityName.get(String(failed.scheduledEventId)) ?? 'activity'} failed at ${at(e)} (${String(failed.failure?.message ?? '').slice(0, 80)})`);
      const signal = e.workflowExecutionSignaledEventAttributes;
      if (signal) out.push(`signal ${signal.signalName} at ${at(e)}`);
      const wft = e.workflowTaskTimedOutEventAttributes;
      if (wft) out.push(`workflow task timed out (${TIMEOUT_TYPES[Number(wft.timeoutType)] ?? 'timeout'}) at ${at(e)}`);
    }
    const end = events.at(-1);
    return `${out.length ? out.join('; ') : 'no timeouts or failures'}; workflow closed at ${end ? at(end) : '?'}`;
  } catch (err) {
    return `history unavailable (${(err as Error).message})`;
  }
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
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
