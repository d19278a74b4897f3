/**
 * Judging a chaos run against the clean run of the same workload (see tools/bench/rows/chaos.ts for
 * what each figure means): completion, the extra delay of the jobs the failure hit, provider
 * predictions per job and orphans, the credit ledger, and the evidence for a miss (the worst
 * job's workflow history, unfinished jobs' pending activities).
 */
import { tsToMs } from '@temporalio/common/lib/time';
import { getBalance, ledgerBalance } from '../../../src/credits/ledger';
import { workflowIds } from '../../../src/temporal/names';
import type { BenchContext } from '../context';
import type { ProviderPrediction, ProviderProcess } from '../provider-process';
import type { RowResult } from '../report';
import type { Service } from '../service';
import { percentile, round } from '../stats';
import type { ChaosEnv, Incident, JobOutcome, PhaseResult } from './chaos';
import { describeUnfinished, TERMINAL } from './common';

export const CHAOS_GOAL = '100% of jobs succeed; worst extra delay per hit job ≤ 20 s; 0 duplicate or orphaned predictions; ledger exact';
const MAX_EXTRA_DELAY_S = 20;

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
 * The API's answers to the job-list GETs made during the outages and the AFTER_OUTAGE_MS after
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
  return `API GETs of the job list (one every ${run.getEveryMs} ms) while ${what} and the ${AFTER_OUTAGE_MS / 1000} s after: ${text}.`;
}

/** The row: figures, floor (the clean run), verdict, and notes on what bounds any miss. */
export async function judge(env: ChaosEnv, row: RowResult, clean: PhaseResult, run: PhaseResult): Promise<RowResult> {
  const cleanByKind = new Map<string, number>();
  for (const kind of new Set(clean.jobs.map((j) => j.kind))) {
    const durations = clean.jobs.filter((j) => j.kind === kind && j.completedAt !== undefined).map((j) => j.completedAt! - j.submittedAt);
    // a kind with no clean completion has no baseline: its hit jobs count their whole time as extra (an upper bound)
    if (durations.length) cleanByKind.set(kind, median(durations));
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
    all_final: !run.timedOut,
  };
  const lowerBound = unfinished.length ? '≥ ' : '';
  row.figureText =
    `${succeeded}/${run.jobs.length} succeeded; ${hit.length} jobs hit: extra delay max ${lowerBound}${seconds(maxExtra)} s, p50 ${seconds(p50Extra)} s ` +
    `(their clean time p50 ${hitClean.length ? `${seconds(median(hitClean))} s` : 'unknown'}); ` +
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
