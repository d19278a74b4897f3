/**
 * B3: a burst. 2,000 POST /generate in 20 s (quick: 100 in 1 s), the same 100/s open loop,
 * from 10 users, each its own client with a pool of 10 keep-alive connections (as 10 customers
 * are); the provider is limited as in B2, so the jobs drain at the create limit afterwards.
 * Figure: the accept latency (the POST's answer). Floor: starting the floor workflow directly
 * on Temporal at the same rate (client.workflow.start latency), with its worker running.
 * The API's Server-Timing header splits each accept into its database statement, its
 * workflow start and the rest (HTTP, auth, validation, and waiting for a CPU).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import { HttpClient, openLoop } from '../http-client';
import { parseServerTiming } from '../../src/http/server-timing';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startFloorWorker, type Service } from '../service';
import { round, summarize } from '../stats';
import { cpuGroups, describeUnfinished, emptyRow, jobBody, ms, waitAllFinal } from './common';
import { providerLimitKnobs } from './b2-provider-throughput';

const CONNECTIONS_PER_USER = 10;

export async function b3BurstAcceptance(ctx: BenchContext, svc: Service): Promise<RowResult> {
  const row = emptyRow('B3', 'burst acceptance (10 users)', 'accept p99 ≤ 1.5× the start-alone p99; 0 errors; all complete');
  const total = ctx.quick ? 100 : 2000;
  const durationMs = ctx.quick ? 1000 : 20_000;
  const rate = (total * 1000) / durationMs;

  // ---- floor ----
  const floor = await startFloorWorker(ctx, svc, 'b3');
  const floorLatencies: number[] = [];
  let floorErrors = 0;
  const floorCpu = cpuMeter(cpuGroups(ctx, undefined, floor));
  let floorCpuReport: ReturnType<ReturnType<typeof cpuMeter>['stop']> | undefined;
  try {
    await openLoop({
      ratePerSecond: rate,
      durationMs,
      send: async () => {
        const t0 = performance.now();
        try {
          await ctx.temporal.workflow.start('floorGenerationJob', {
            taskQueue: floor.taskQueue,
            workflowId: `floor-b3-${randomUUID()}`,
            args: [{ signalDelayMs: 1000 }],
          });
          floorLatencies.push(performance.now() - t0);
        } catch {
          floorErrors++;
        }
      },
    });
    floorCpuReport = floorCpu.stop();
  } finally {
    await floor.stop();
  }

  // ---- the burst ----
  ctx.replicate.setKnobs({ latency_ms: 1000, failure_rate: 0, ...providerLimitKnobs(ctx.quick) });
  const users = await Promise.all(Array.from({ length: 10 }, () => svc.createUser()));
  // Each user its own client with a pool of 10 keep-alive connections (Python requests' default).
  const clients = users.map(() => new HttpClient(svc.baseUrl, {}, CONNECTIONS_PER_USER));
  const latencies: number[] = [];
  const phases = { db: [] as number[], temporal: [] as number[], rest: [] as number[] };
  const statuses: Record<string, number> = {};
  const ids: string[] = [];
  const errorSamples = new Set<string>();
  const cpu = cpuMeter(cpuGroups(ctx, svc));
  const offer = await openLoop({
    ratePerSecond: rate,
    durationMs,
    send: async (i) => {
      try {
        const reply = await clients[i % users.length]!.request('POST', '/api/v1/generate', { json: jobBody(`bench B3 ${i}`), headers: users[i % users.length]!.headers });
        const body = JSON.parse(reply.body.toString('utf8'));
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;
        if (reply.status === 202) {
          latencies.push(reply.ms);
          ids.push(body.job_id);
          const timing = parseServerTiming(reply.headers['server-timing'] as string | undefined);
          phases.db.push(timing.db ?? NaN);
          phases.temporal.push(timing.temporal ?? NaN);
          phases.rest.push(reply.ms - (timing.db ?? 0) - (timing.temporal ?? 0));
        } else if (errorSamples.size < 3) {
          errorSamples.add(`${reply.status} ${JSON.stringify(body).slice(0, 160)}`);
        }
      } catch {
        statuses['0'] = (statuses['0'] ?? 0) + 1;
      }
    },
  });
  row.cpu = cpu.stop();
  for (const c of clients) c.close();
  ctx.log(`  B3: ${ids.length} accepted in ${round(offer.seconds, 1)} s; waiting for all to complete (they drain at the create limit)`);
  const drained = await waitAllFinal(svc, ids, (ids.length / ctx.createRatePerSecond) * 1000 + (ctx.quick ? 45_000 : 180_000), ctx.log);

  const a = summarize(latencies);
  const f = summarize(floorLatencies);
  // an accept without a Server-Timing part (NaN) counts in none of the parts
  const parts = {
    db: summarize(phases.db.filter(Number.isFinite)),
    temporal: summarize(phases.temporal.filter(Number.isFinite)),
    rest: summarize(phases.rest),
  };
  const errors = total - ids.length;
  const succeeded = drained.counts.succeeded ?? 0;
  const allComplete = !drained.timedOut && succeeded === ids.length;
  row.figures = {
    requests: total,
    offered_per_s: rate,
    accepted: ids.length,
    errors,
    accept_p50_ms: round(a.p50),
    accept_p95_ms: round(a.p95),
    accept_p99_ms: round(a.p99),
    accept_max_ms: round(a.max),
    succeeded,
    all_complete: allComplete,
    seconds_to_complete: round(offer.seconds + drained.ms / 1000),
    schedule_lag_max_ms: round(offer.lagMs),
    statement_p99_ms: round(parts.db.p99),
    start_p99_ms: round(parts.temporal.p99),
    rest_p99_ms: round(parts.rest.p99),
  };
  row.floor = { starts: floorLatencies.length, errors: floorErrors, p50_ms: round(f.p50), p99_ms: round(f.p99) };
  row.figureText = `${ids.length}/${total} accepted in ${round(offer.seconds, 1)} s: p50 ${ms(a.p50)}, p99 ${ms(a.p99)}, max ${ms(a.max)}; ${errors} errors; ${succeeded}/${ids.length} completed (after ${round(offer.seconds + drained.ms / 1000)} s)`;
  row.floorText = `workflow start p50 ${ms(f.p50)}, p99 ${ms(f.p99)}`;
  row.ratio = round(a.p99 / f.p99, 2);
  row.ratioText = `${row.ratio}× (p99)`;
  const misses: string[] = [];
  if (a.p99 > 1.5 * f.p99) misses.push(`accept p99 ${ms(a.p99)} > 1.5 × the start-alone p99 (${ms(1.5 * f.p99)})`);
  if (errors) misses.push(`${errors} errors (${JSON.stringify(statuses)}: ${[...errorSamples].join('; ')})`);
  if (!allComplete) {
    misses.push(`not all completed (${JSON.stringify(drained.counts)})`);
    row.notes.push(`Unfinished: ${(await describeUnfinished(ctx, svc, ids)).join(' | ')}.`);
  }
  row.pass = misses.length === 0;
  if (floorCpuReport) {
    const used = Object.entries(floorCpuReport.byGroupPctOfCore).map(([k, v]) => `${k} ${v}%`).join(', ');
    row.notes.push(`CPU during the floor (${floorCpuReport.seconds} s, % of one core): machine ${floorCpuReport.machineBusyPct}% busy of ${floorCpuReport.cores} cores; used: ${used}.`);
  }
  row.notes.push(`Jobs drain at the create limit (${ctx.createRatePerSecond}/s), model 1 s.`);
  const part = (p: (typeof parts)['db']) => `p50 ${ms(p.p50)}, p99 ${ms(p.p99)}`;
  row.notes.push(
    `The accepts' parts (Server-Timing): the accept statement ${part(parts.db)}; the workflow start ${part(parts.temporal)}; the rest (HTTP, auth, validation, waiting for a CPU) ${part(parts.rest)}.`,
  );
  if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
  if (offer.lagMs > 20) row.notes.push(`The load generator fell up to ${ms(offer.lagMs)} behind its schedule.`);
  return row;
}
