/**
 * F1: one account floods. The provider allows 600 creates a minute (the create queue's rate limit
 * is the same 10/s), the model takes 1 s. The flooding account sends 20 jobs/s (twice the limit)
 * for 60 s from two API keys, 10/s each, whatever the answers (a real client that hits
 * MAX_ACTIVE_JOBS_PER_ACCOUNT keeps sending); another account sends one job every 3 s during it.
 * Figures: the other account's job latency (POST sent → completed_at) during the flood against
 * its idle latency measured just before with the same pace (the floor), and the flooding
 * account's completed jobs per second in steady state (its share of the provider limit).
 */
import { ErrorCode } from '../../../src/error-codes';
import type { BenchContext } from '../context';
import { openLoop } from '../http-client';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startService, type Service } from '../service';
import { round, sleep } from '../stats';
import { providerLimitKnobs, rateBetween, sampler } from './b2-provider-throughput';
import { cpuGroups, describeUnfinished, emptyRow, jobBody, ms, pct, waitAllFinal } from './common';
import { latenciesOf, phasesText, submitPaced } from './isolation';

const LIMIT_PER_MINUTE = 600;
const FLOOD_PER_SECOND = 20;
const MODEL_LATENCY_MS = 1000;
const MAX_ACTIVE_JOBS = 100;
/** Above the flooding keys' 10/s = 600/min each, so the shared limiter is on the path but never the reason for a 429. */
const RATE_LIMIT_PER_MINUTE = 1200;
const GAP_MS = 2000;
const WARMUP_JOBS = 5;

export async function f1Flood(ctx: BenchContext): Promise<RowResult> {
  const limitPerSecond = LIMIT_PER_MINUTE / 60;
  const row = emptyRow(
    'F1',
    `flood: one account at ${FLOOD_PER_SECOND} jobs/s (2× the provider limit) from 2 keys`,
    `other account's p99 ≤ its idle p99 + ${GAP_MS / 1000} s; flooding account completes ≥ 95% of ${LIMIT_PER_MINUTE}/min (${round(limitPerSecond * 0.95, 2)}/s)`,
  );
  const floodS = ctx.quick ? 12 : 60;
  const warmS = ctx.quick ? 4 : 10;
  const otherEveryMs = ctx.quick ? 2000 : 3000;
  const idleJobs = ctx.quick ? 4 : 15;
  const otherStartS = ctx.quick ? 2 : 5;
  const floodOtherJobs = Math.floor(((floodS - otherStartS) * 1000) / otherEveryMs);
  const knobs = providerLimitKnobs(ctx.quick);

  let svc: Service | undefined;
  try {
    svc = await startService(ctx, 'f1', { RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT_PER_MINUTE), MAX_ACTIVE_JOBS_PER_ACCOUNT: String(MAX_ACTIVE_JOBS) });
    const s = svc;
    ctx.replicate.setKnobs({ latency_ms: MODEL_LATENCY_MS, failure_rate: 0, ...knobs });
    const [flooder, other] = await Promise.all([s.createUser(), s.createUser()]);
    const second = await s.http.json('POST', '/api/v1/keys', { json: { name: 'bench-flood-2' }, headers: flooder.headers });
    if (second.status !== 201) throw new Error(`POST /api/v1/keys answered ${second.status}: ${JSON.stringify(second.body)}`);
    const floodKeys = [flooder.headers, { authorization: `Bearer ${second.body.api_key}` }];
    const otherBody = (tag: string) => (i: number) => jobBody(`bench F1 ${tag} ${i}`);

    // a few jobs first, not measured: the new processes' code paths warm up
    await latenciesOf(ctx, s, await submitPaced(s, other, WARMUP_JOBS, 500, otherBody('warm-up')), 60_000);

    // ---- the floor: the other account alone, same pace ----
    const idleSent = await submitPaced(s, other, idleJobs, otherEveryMs, otherBody('idle'));
    const idle = await latenciesOf(ctx, s, idleSent, 60_000);

    // ---- the flood, and the other account's jobs during it ----
    const before = ctx.replicate.stats();
    const statuses: Record<string, number> = {};
    const floodIds: string[] = [];
    const succeededOfFlooder = () => s.db.job.count({ where: { userId: flooder.id, status: 'succeeded' } });
    const completions = sampler(succeededOfFlooder);
    const cpu = cpuMeter(cpuGroups(ctx, s));
    const floodRun = openLoop({
      ratePerSecond: FLOOD_PER_SECOND,
      durationMs: floodS * 1000,
      send: async (i) => {
        try {
          const res = await s.http.json('POST', '/api/v1/generate', { json: jobBody(`bench F1 flood ${i}`), headers: floodKeys[i % 2] });
          const key = res.status === 429 ? `429 ${res.body?.error?.code ?? '?'}` : String(res.status);
          statuses[key] = (statuses[key] ?? 0) + 1;
          if (res.status === 202) floodIds.push(res.body.job_id);
        } catch {
          statuses['network error'] = (statuses['network error'] ?? 0) + 1;
        }
      },
    });
    await sleep(otherStartS * 1000);
    const otherRun = submitPaced(s, other, floodOtherJobs, otherEveryMs, otherBody('flood'));
    const [flood, floodSent] = await Promise.all([floodRun, otherRun]);
    row.cpu = cpu.stop();
    const samples = await completions.stop();
    const floodRate = rateBetween(samples, warmS, flood.seconds);
    const during = await latenciesOf(ctx, s, floodSent, 120_000);
    ctx.log(`  F1: flood done (${floodIds.length} accepted); draining the flooding account's jobs`);
    const drained = await waitAllFinal(s, floodIds, MAX_ACTIVE_JOBS * 1000 + 120_000, ctx.log);
    const after = ctx.replicate.stats();

    const floodSucceeded = drained.counts.succeeded ?? 0;
    const rateLimitedJobs = await s.db.job.count({ where: { id: { in: floodIds }, errorCode: ErrorCode.providerRateLimited } });
    const tooMany = statuses[`429 ${ErrorCode.tooManyActiveJobs}`] ?? 0;
    const offered = Object.values(statuses).reduce((a, b) => a + b, 0);
    const gap = during.summary.p99 - idle.summary.p99;
    row.figures = {
      flood_per_s: FLOOD_PER_SECOND,
      flood_seconds: round(flood.seconds),
      flood_offered: offered,
      flood_accepted: statuses['202'] ?? 0,
      flood_429_too_many_active_jobs: tooMany,
      flood_429_rate_limited: statuses[`429 ${ErrorCode.rateLimited}`] ?? 0,
      flood_other_statuses: JSON.stringify(Object.fromEntries(Object.entries(statuses).filter(([k]) => k !== '202' && k !== `429 ${ErrorCode.tooManyActiveJobs}`))),
      flood_completed_per_s: round(floodRate, 2),
      flood_pct_of_limit: round((floodRate / limitPerSecond) * 100, 1),
      flood_succeeded: floodSucceeded,
      flood_jobs_failed_provider_429: rateLimitedJobs,
      provider_creates: after.predictions_created - before.predictions_created,
      provider_429s_absorbed_by_retries: after.rate_limited_creates - before.rate_limited_creates,
      other_jobs: during.jobs,
      other_succeeded: during.succeeded,
      other_p50_ms: round(during.summary.p50),
      other_p99_ms: round(during.summary.p99),
      other_max_ms: round(during.summary.max),
      other_p99_above_idle_ms: round(gap),
      other_posts_resent: idleSent.resent + floodSent.resent,
      max_active_jobs_per_account: MAX_ACTIVE_JOBS,
      rate_limit_per_key_per_minute: RATE_LIMIT_PER_MINUTE,
      create_queue_rate_per_s: ctx.createRatePerSecond,
      provider_window_ms: knobs.rate_limit_window_ms,
    };
    row.floor = { jobs: idle.jobs, succeeded: idle.succeeded, p50_ms: round(idle.summary.p50), p99_ms: round(idle.summary.p99), max_ms: round(idle.summary.max) };
    row.figureText =
      `other account: ${during.succeeded}/${during.jobs} jobs, p50 ${ms(during.summary.p50)}, p99 ${ms(during.summary.p99)}; ` +
      `flooding account: ${round(floodRate, 2)} completed/s = ${pct(floodRate / limitPerSecond)} of the limit, ` +
      `${statuses['202'] ?? 0} accepted, ${tooMany} × 429 too_many_active_jobs of ${offered} sent`;
    row.floorText = `other account idle (same pace): ${idle.succeeded}/${idle.jobs} jobs, p50 ${ms(idle.summary.p50)}, p99 ${ms(idle.summary.p99)}`;
    row.ratio = round(during.summary.p99 / idle.summary.p99, 2);
    row.ratioText = `${row.ratio}× (p99), ${gap >= 0 ? '+' : '−'}${ms(Math.abs(gap))}`;

    const misses: string[] = [];
    if (!(gap <= GAP_MS)) misses.push(`the other account's p99 is ${ms(gap)} above its idle p99 (goal ≤ ${GAP_MS / 1000} s)`);
    if (!(floodRate >= limitPerSecond * 0.95)) misses.push(`the flooding account completed ${round(floodRate, 2)}/s < ${round(limitPerSecond * 0.95, 2)}/s`);
    if (during.succeeded < during.jobs || idle.succeeded < idle.jobs) misses.push(`the other account's jobs did not all succeed (idle ${idle.succeeded}/${idle.jobs}, flood ${during.succeeded}/${during.jobs})`);
    if (drained.timedOut || floodSucceeded < floodIds.length) {
      misses.push(`the flooding account's accepted jobs did not all succeed (${JSON.stringify(drained.counts)})`);
      row.notes.push(`Unfinished: ${(await describeUnfinished(ctx, s, floodIds)).join(' | ')}.`);
    }
    row.pass = misses.length === 0;
    row.notes.push(
      `Provider: ${LIMIT_PER_MINUTE} creates/min (window ${knobs.rate_limit_window_ms / 1000} s), model ${MODEL_LATENCY_MS / 1000} s; create queue limited to ${ctx.createRatePerSecond}/s. ` +
        `Flood: ${FLOOD_PER_SECOND}/s for ${floodS} s from 2 keys of one account (${FLOOD_PER_SECOND / 2}/s = ${(FLOOD_PER_SECOND / 2) * 60}/min per key; RATE_LIMIT_PER_MINUTE=${RATE_LIMIT_PER_MINUTE} for the bench, ` +
        `so the per-key limit is on the path but not what refuses), MAX_ACTIVE_JOBS_PER_ACCOUNT=${MAX_ACTIVE_JOBS}. ` +
        `The other account: one job every ${otherEveryMs / 1000} s, ${idleJobs} alone first (the floor), then ${floodOtherJobs} from ${otherStartS} s into the flood; ` +
        `latency = POST sent → completed_at. The flooding account's share: its succeeded jobs per second from ${warmS} s to the end of the flood ` +
        `(${round(after.predictions_created - before.predictions_created)} provider creates in all, ${after.rate_limited_creates - before.rate_limited_creates} provider 429s retried).`,
    );
    if (idleSent.resent + floodSent.resent) row.notes.push(`${idleSent.resent + floodSent.resent} of the other account's POSTs were answered 503 or lost and sent again after 1 s (same Idempotency-Key); their latency counts from the first send.`);
    row.notes.push(`The other account's jobs, p50 / p99 of each part, idle: ${phasesText(idle.phases)}; during the flood: ${phasesText(during.phases)}.`);
    if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
    return row;
  } finally {
    await svc?.stop();
  }
}
