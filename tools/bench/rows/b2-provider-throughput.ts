/**
 * B2: throughput when the provider is the limit. The local provider allows 600 creates a minute
 * (a sliding window, like Replicate; quick mode: 60 per 6 s, the same 10/s), the model takes 1 s,
 * and jobs are offered at twice that rate. Figure: prediction creates per second the provider
 * accepted in steady state (after a warm-up, until the offer ends; the backlog keeps the queue
 * saturated). Floor: the floor workflow offered the same way through the same rate-limited
 * create queue, counting its no-op creates.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../../../src/error-codes';
import type { BenchContext } from '../context';
import { openLoop } from '../http-client';
import { cpuMeter, type CpuReport } from '../proc';
import type { RowResult } from '../report';
import { startFloorWorker, type Service } from '../service';
import { round, sleep, summarize } from '../stats';
import { cpuGroups, describeUnfinished, emptyRow, jobBody, pct, waitAllFinal } from './common';

const LIMIT_PER_MINUTE = 600;
const OFFERED_PER_SECOND = 20;
const MODEL_LATENCY_MS = 1000;

interface Sample {
  t: number;
  count: number;
}

/** Samples a counter every 500 ms until stopped. */
export function sampler(read: () => Promise<number> | number) {
  const samples: Sample[] = [];
  const t0 = performance.now();
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push({ t: (performance.now() - t0) / 1000, count: await read() });
      await sleep(500);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
      samples.push({ t: (performance.now() - t0) / 1000, count: await read() });
      return samples;
    },
  };
}

/** Rate of the counter between the samples nearest to `from` and `to` seconds. */
export function rateBetween(samples: Sample[], from: number, to: number): number {
  const nearest = (t: number) => samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best), samples[0]!);
  const a = nearest(from);
  const b = nearest(to);
  return b.t > a.t ? (b.count - a.count) / (b.t - a.t) : NaN;
}

export function providerLimitKnobs(quick: boolean) {
  // quick: a 6 s window with a tenth of the creates, so the limit binds within a short run
  const windowMs = quick ? 6_000 : 60_000;
  return { create_rate_limit_per_minute: (LIMIT_PER_MINUTE * windowMs) / 60_000, rate_limit_window_ms: windowMs };
}

export async function b2ProviderThroughput(ctx: BenchContext, svc: Service): Promise<RowResult> {
  const limitPerSecond = LIMIT_PER_MINUTE / 60;
  const row = emptyRow(
    'B2',
    'provider-limited throughput',
    `steady creates/s ≥ 97% of ${LIMIT_PER_MINUTE}/min (${round(limitPerSecond * 0.97, 2)}/s); 0 failed; 0 provider 429s reach a user; all complete`,
  );
  const durationS = ctx.quick ? 12 : 180;
  const floorDurationS = ctx.quick ? 8 : 60;
  const warmS = ctx.quick ? 4 : 20;
  const knobs = providerLimitKnobs(ctx.quick);

  // ---- floor: the same offer through the same rate-limited create queue ----
  const floor = await startFloorWorker(ctx, svc, 'b2');
  let floorRate: number;
  try {
    const s = sampler(async () => (await floor.stats()).creates);
    await openLoop({
      ratePerSecond: OFFERED_PER_SECOND,
      durationMs: floorDurationS * 1000,
      send: () =>
        ctx.temporal.workflow.start('floorGenerationJob', {
          taskQueue: floor.taskQueue,
          workflowId: `floor-b2-${randomUUID()}`,
          args: [{ signalDelayMs: MODEL_LATENCY_MS }],
        }),
    });
    const samples = await s.stop();
    floorRate = rateBetween(samples, Math.min(warmS, floorDurationS / 2), floorDurationS);
  } finally {
    await floor.stop(); // the floor's backlog stays queued, unpolled
  }

  // ---- the real jobs ----
  ctx.replicate.setKnobs({ latency_ms: MODEL_LATENCY_MS, failure_rate: 0, ...knobs });
  const users = await Promise.all(Array.from({ length: 5 }, () => svc.createUser()));
  const before = ctx.replicate.stats();
  const created = sampler(() => ctx.replicate.stats().predictions_created - before.predictions_created);
  const cpu = cpuMeter(cpuGroups(ctx, svc));
  const wholeRun = cpuMeter(cpuGroups(ctx, svc)); // offer and drain: every job accepted and finished
  const statuses: Record<string, number> = {};
  const ids: string[] = [];
  const acceptMs: number[] = [];
  const offer = await openLoop({
    ratePerSecond: OFFERED_PER_SECOND,
    durationMs: durationS * 1000,
    send: async (i) => {
      const user = users[i % users.length]!;
      try {
        const res = await svc.http.json('POST', '/api/v1/generate', { json: jobBody(`bench B2 ${i}`), headers: user.headers });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status === 202) {
          ids.push(res.body.job_id);
          acceptMs.push(res.ms);
        }
      } catch {
        statuses['0'] = (statuses['0'] ?? 0) + 1;
      }
    },
  });
  row.cpu = cpu.stop();
  const backlog = ids.length - (ctx.replicate.stats().predictions_created - before.predictions_created);
  ctx.log(`  B2: offer done (${ids.length} accepted), ${backlog} jobs still to create; draining at the limit`);
  const drained = await waitAllFinal(svc, ids, (backlog / limitPerSecond) * 1000 + (ctx.quick ? 45_000 : 180_000), ctx.log);
  const ourCpuMsPerJob = cpuMsPerJob(wholeRun.stop(), ids.length);
  const samples = await created.stop();
  const after = ctx.replicate.stats();

  const steady = rateBetween(samples, warmS, offer.seconds);
  const rejectedPosts = Object.entries(statuses).filter(([s]) => s !== '202').reduce((n, [, c]) => n + c, 0);
  const failedJobs = (drained.counts.failed ?? 0) + (drained.counts.canceled ?? 0);
  const rateLimitedJobs = await svc.db.job.count({ where: { id: { in: ids }, errorCode: ErrorCode.providerRateLimited } });
  const userVisible429 = (statuses['429'] ?? 0) + rateLimitedJobs;
  const succeeded = drained.counts.succeeded ?? 0;
  const providerRejected = after.rate_limited_creates - before.rate_limited_creates;

  row.figures = {
    offered_per_s: OFFERED_PER_SECOND,
    offer_seconds: round(offer.seconds),
    jobs: ids.length,
    steady_creates_per_s: round(steady, 2),
    pct_of_limit: round((steady / limitPerSecond) * 100, 1),
    succeeded,
    failed: failedJobs,
    user_visible_429: userVisible429,
    provider_429s_absorbed_by_retries: providerRejected,
    rejected_posts: rejectedPosts,
    all_complete: !drained.timedOut && succeeded + failedJobs === ids.length,
    minutes_to_complete: round((offer.seconds * 1000 + drained.ms) / 60_000, 1),
    cpu_ms_per_job: round(ourCpuMsPerJob),
    accept_p50_ms: round(summarize(acceptMs).p50),
    accept_p99_ms: round(summarize(acceptMs).p99),
    create_queue_rate_per_s: ctx.createRatePerSecond,
    provider_window_ms: knobs.rate_limit_window_ms,
  };
  row.floor = { steady_creates_per_s: round(floorRate, 2), offered_seconds: floorDurationS };
  row.figureText =
    `${round(steady, 2)} creates/s = ${pct(steady / limitPerSecond)} of the limit; ` +
    `${succeeded}/${ids.length} jobs succeeded, ${failedJobs} failed, ${userVisible429} 429s to users ` +
    `(${providerRejected} provider 429s retried); ${drained.timedOut ? 'not all done after' : 'all done after'} ${round((offer.seconds * 1000 + drained.ms) / 1000)} s`;
  row.floorText = `${round(floorRate, 2)} no-op creates/s`;
  row.ratio = round(steady / floorRate, 2);
  row.ratioText = `${row.ratio}×`;
  const misses: string[] = [];
  if (steady < limitPerSecond * 0.97) misses.push(`steady ${round(steady, 2)}/s < ${round(limitPerSecond * 0.97, 2)}/s`);
  if (failedJobs) misses.push(`${failedJobs} jobs failed`);
  if (userVisible429) misses.push(`${userVisible429} 429s reached users`);
  if (rejectedPosts) misses.push(`${rejectedPosts} POSTs not accepted (${JSON.stringify(statuses)})`);
  if (drained.timedOut) {
    misses.push(`not every job completed (${JSON.stringify(drained.counts)})`);
    row.notes.push(`Unfinished: ${(await describeUnfinished(ctx, svc, ids)).join(' | ')}.`);
  }
  row.pass = misses.length === 0;
  row.notes.push(
    `Offered ${OFFERED_PER_SECOND} jobs/s for ${durationS} s against ${LIMIT_PER_MINUTE} creates/min (window ${knobs.rate_limit_window_ms / 1000} s), model 1 s; ` +
      `worker create queue limited to ${ctx.createRatePerSecond}/s; steady state = ${warmS} s to the end of the offer.`,
  );
  if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
  const coresAtLimit = (ourCpuMsPerJob * limitPerSecond) / 1000;
  row.notes.push(
    `CPU per job (our processes and the stack, from the first POST until every job finished): ${round(ourCpuMsPerJob)} ms; ` +
      `${limitPerSecond} jobs/s would take ${round(coresAtLimit, 2)} of the machine's ${row.cpu.cores} cores.`,
  );
  if (steady < limitPerSecond * 0.97 && floorRate < limitPerSecond * 0.97) {
    row.notes.push(`The floor (Temporal's task-queue rate limiter alone) delivers only ${round(floorRate, 2)}/s.`);
  }
  return row;
}

/** CPU milliseconds per job: every group the meter followed (not other programs), over `jobs`. */
export function cpuMsPerJob(cpu: CpuReport, jobs: number): number {
  const pctOfCore = Object.values(cpu.byGroupPctOfCore).reduce((a, b) => a + b, 0);
  return jobs > 0 ? ((pctOfCore / 100) * cpu.seconds * 1000) / jobs : NaN;
}
