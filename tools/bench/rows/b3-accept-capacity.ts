/**
 * B3: the accept path's capacity. The highest rate of POST /api/v1/generate (from 10 users, each
 * its own client with a pool of 10 keep-alive connections, as 10 customers are) at which the
 * accept p99 stays ≤ 250 ms, and the same for bare workflow starts (client.workflow.start of the
 * floor workflow, with its worker running): the floor, in the same run on the same engine.
 *
 * The search: open-loop steps from 10/s up, ×1.5 a step, each a warm-up then a measured window;
 * a path stops at its first step whose measured p99 exceeds 250 ms or that has an error, and its
 * capacity is the last rate that passed (if 10/s already fails, the steps go down, ÷1.5, to
 * find one that passes). The two paths' steps alternate at each rate, so a change in the
 * machine's load hits both.
 *
 * What runs during a step is the accept path and what a job does right after it, not the jobs'
 * provider work: every accepted job's workflow starts and creates its prediction (the create
 * queue's limit, the run's REPLICATE_CREATE_RATE_PER_SECOND, as in production; the floor worker
 * has the same settings), and the provider (no rate limit) finishes each prediction only after
 * the step's last request (its model latency is the step's length plus 2 s; the floor's signal
 * comes as late). So the outputs' copies and completions run after the step, and each step's
 * backlog drains (every job final, every floor workflow closed) before the next one starts: a
 * step never shares the machine with the jobs' provider work, its own or the previous step's.
 * MAX_ACTIVE_JOBS_PER_ACCOUNT is lifted for this row's service: the per-account cap is a
 * business refusal (429), not the accept path's capacity.
 *
 * CPU per accept (and per start): the CPU of our processes and the stack during a step's
 * measured window, over the requests sent in it, at the highest rate both paths passed.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import { HttpClient, openLoop } from '../http-client';
import { parseServerTiming } from '../../../src/http/server-timing';
import { cpuMeter, type CpuReport } from '../proc';
import type { RowResult } from '../report';
import { startFloorWorker, startService, type FloorWorker, type Service } from '../service';
import { round, sleep, summarize, type Summary } from '../stats';
import { cpuGroups, describeUnfinished, emptyRow, jobBody, ms, waitAllFinal } from './common';

const USERS = 10;
const CONNECTIONS_PER_USER = 10;
const P99_BUDGET_MS = 250;
const GOAL_RATIO = 0.8;
const FIRST_RATE = 10;
const FACTOR = 1.5;
/** The search stops here even if every step passed (the figure is then "at least"). */
const MAX_RATE = 1000;
/** Below 10/s, the lowest rate tried. */
const MIN_RATE = 2;
/** The processes CPU per request is reported for, and the meter's groups that make each. */
const PROCESSES: Record<string, string[]> = {
  API: ['api'],
  worker: ['worker', 'floor worker'],
  Temporal: ['temporal'],
  Postgres: ['postgres'],
  MinIO: ['minio'],
};

type PathName = 'accept' | 'start';

interface Step {
  rate: number;
  requests: number;
  measured: Summary;
  errors: number;
  errorSamples: string[];
  lagMs: number;
  /** CPU per request sent in the measured window, by process (ms). */
  cpuMsPerRequest: Record<string, number>;
  cpu: CpuReport;
  pass: boolean;
  drainSeconds: number;
  /** accept only: p50 / p99 of the Server-Timing parts of the measured accepts. */
  parts?: { db: Summary; temporal: Summary; rest: Summary };
  drainProblem?: string;
}

interface Search {
  steps: Step[];
  done: boolean;
  /** The highest rate that passed, null if none did. */
  capacity: number | null;
}

export async function b3AcceptCapacity(ctx: BenchContext): Promise<RowResult> {
  const row = emptyRow(
    'B3',
    'accept capacity (10 users)',
    `accept capacity ≥ ${GOAL_RATIO}× the bare workflow-start capacity (each: the highest rate, in ×${FACTOR} steps from ${FIRST_RATE}/s, with p99 ≤ ${P99_BUDGET_MS} ms and no error)`,
  );
  const warmupMs = ctx.quick ? 1000 : 3000;
  const measureMs = ctx.quick ? 3000 : 10_000;
  /** The provider's model latency and the floor's signal delay: every job finishes after its step. */
  const holdMs = warmupMs + measureMs + 2000;
  let svc: Service | undefined;
  let floor: FloorWorker | undefined;
  const clients: HttpClient[] = [];
  try {
    svc = await startService(ctx, 'b3', { MAX_ACTIVE_JOBS_PER_ACCOUNT: '1000000' });
    const s = svc;
    floor = await startFloorWorker(ctx, s, 'b3');
    const f = floor;
    ctx.replicate.setKnobs({ latency_ms: holdMs, failure_rate: 0, create_rate_limit_per_minute: null, other_rate_limit_per_minute: null });
    const users = await Promise.all(Array.from({ length: USERS }, () => s.createUser()));
    // Each user its own client with a pool of 10 keep-alive connections (Python requests' default).
    clients.push(...users.map(() => new HttpClient(s.baseUrl, {}, CONNECTIONS_PER_USER)));
    const groups = cpuGroups(ctx, s, f);

    /** One open-loop step: `send` returns the latency of one request, or throws (an error). */
    const step = async (rate: number, send: (i: number) => Promise<{ ms: number; timing?: Record<string, number> }>): Promise<Omit<Step, 'pass' | 'drainSeconds'>> => {
      const measureFrom = Math.ceil((rate * warmupMs) / 1000);
      const latencies: number[] = [];
      const parts = { db: [] as number[], temporal: [] as number[], rest: [] as number[] };
      const errorSamples = new Set<string>();
      let errors = 0;
      let meter: ReturnType<typeof cpuMeter> | undefined;
      let cpu: CpuReport | undefined;
      const startMeter = setTimeout(() => (meter = cpuMeter(groups)), warmupMs);
      const stopMeter = setTimeout(() => (cpu = meter?.stop()), warmupMs + measureMs);
      const offer = await openLoop({
        ratePerSecond: rate,
        durationMs: warmupMs + measureMs,
        send: async (i) => {
          try {
            const r = await send(i);
            if (i < measureFrom) return;
            latencies.push(r.ms);
            if (r.timing) {
              if (Number.isFinite(r.timing.db)) parts.db.push(r.timing.db!);
              if (Number.isFinite(r.timing.temporal)) parts.temporal.push(r.timing.temporal!);
              parts.rest.push(r.ms - (r.timing.db ?? 0) - (r.timing.temporal ?? 0));
            }
          } catch (err) {
            errors++;
            if (errorSamples.size < 3) errorSamples.add((err as Error).message.slice(0, 200));
          }
        },
      });
      clearTimeout(startMeter);
      clearTimeout(stopMeter);
      cpu ??= meter?.stop() ?? cpuMeter(groups).stop();
      const requests = Math.round((rate * (warmupMs + measureMs)) / 1000) - measureFrom;
      const cpuMsPerRequest = Object.fromEntries(
        Object.entries(PROCESSES).map(([name, gs]) => [name, gs.reduce((sum, g) => sum + ((cpu!.byGroupPctOfCore[g] ?? 0) / 100) * cpu!.seconds * 1000, 0) / Math.max(requests, 1)]),
      );
      return {
        rate,
        requests,
        measured: summarize(latencies),
        errors,
        errorSamples: [...errorSamples],
        lagMs: offer.lagMs,
        cpuMsPerRequest,
        cpu,
        ...(parts.rest.length ? { parts: { db: summarize(parts.db), temporal: summarize(parts.temporal), rest: summarize(parts.rest) } } : {}),
      };
    };

    const drainTimeoutMs = (count: number) => holdMs + (count / ctx.createRatePerSecond) * 1000 + (ctx.quick ? 60_000 : 180_000);

    const acceptStep = async (rate: number): Promise<Step> => {
      const ids: string[] = [];
      const measured = await step(rate, async (i) => {
        const user = i % users.length;
        const reply = await clients[user]!.request('POST', '/api/v1/generate', { json: jobBody(`bench B3 ${rate} ${i}`, { fake_latency_ms: holdMs }), headers: users[user]!.headers });
        const body = JSON.parse(reply.body.toString('utf8') || '{}');
        if (reply.status !== 202) throw new Error(`${reply.status} ${JSON.stringify(body).slice(0, 160)}`);
        ids.push(body.job_id);
        return { ms: reply.ms, timing: parseServerTiming(reply.headers['server-timing'] as string | undefined) };
      });
      const t0 = performance.now();
      const drained = await waitAllFinal(s, ids, drainTimeoutMs(ids.length), ctx.log);
      const notSucceeded = ids.length - (drained.counts.succeeded ?? 0);
      const drainProblem = drained.timedOut
        ? `the jobs did not drain (${JSON.stringify(drained.counts)}): ${(await describeUnfinished(ctx, s, ids)).join(' | ')}`
        : notSucceeded
          ? `${notSucceeded} jobs did not succeed (${JSON.stringify(drained.counts)})`
          : undefined;
      return judge(measured, (performance.now() - t0) / 1000, drainProblem);
    };

    const startStep = async (rate: number): Promise<Step> => {
      const measured = await step(rate, async () => {
        const t0 = performance.now();
        await ctx.temporal.workflow.start('floorGenerationJob', { taskQueue: f.taskQueue, workflowId: `floor-b3-${randomUUID()}`, args: [{ signalDelayMs: holdMs }] });
        return { ms: performance.now() - t0 };
      });
      // every floor workflow of the step has closed (visibility's count of the floor queue's open ones)
      const t0 = performance.now();
      const deadline = Date.now() + drainTimeoutMs(measured.requests);
      let drainProblem: string | undefined;
      for (;;) {
        const { count } = await ctx.temporal.workflow.count(`TaskQueue = '${f.taskQueue}' AND ExecutionStatus = 'Running'`);
        if (count === 0) break;
        if (Date.now() > deadline) {
          drainProblem = `${count} floor workflows were still open`;
          break;
        }
        await sleep(250);
      }
      return judge(measured, (performance.now() - t0) / 1000, drainProblem);
    };

    const judge = (m: Omit<Step, 'pass' | 'drainSeconds'>, drainSeconds: number, drainProblem?: string): Step => ({
      ...m,
      drainSeconds,
      drainProblem,
      pass: m.errors === 0 && !drainProblem && m.measured.n > 0 && m.measured.p99 <= P99_BUDGET_MS,
    });

    // ---- the search: both paths at each rate, upward; then downward for a path that failed at once ----
    const searches: Record<PathName, Search> = { accept: { steps: [], done: false, capacity: null }, start: { steps: [], done: false, capacity: null } };
    const run: Record<PathName, (rate: number) => Promise<Step>> = { accept: acceptStep, start: startStep };
    const record = (p: PathName, st: Step) => {
      const sr = searches[p];
      sr.steps.push(st);
      ctx.log(
        `  B3 ${p === 'accept' ? 'accepts' : 'bare starts'} at ${round(st.rate, 1)}/s: p50 ${ms(st.measured.p50)}, p99 ${ms(st.measured.p99)}, ${st.errors} errors${st.errors ? ` (${st.errorSamples.join('; ')})` : ''}` +
          `${st.drainProblem ? `, ${st.drainProblem}` : ''}; drained in ${round(st.drainSeconds, 1)} s → ${st.pass ? 'pass' : 'stop'}`,
      );
      if (st.pass) sr.capacity = Math.max(sr.capacity ?? 0, st.rate);
      else sr.done = true;
    };
    // a quiet second between steps: the drained backlog's last workflow tasks and the meters settle
    const pause = () => sleep(1000);
    for (let rate = FIRST_RATE; rate <= MAX_RATE && !(searches.accept.done && searches.start.done); rate *= FACTOR) {
      for (const p of ['start', 'accept'] as const) {
        if (searches[p].done) continue;
        record(p, await run[p](rate));
        await pause();
      }
    }
    for (const p of ['start', 'accept'] as const) {
      const sr = searches[p];
      for (let rate = FIRST_RATE / FACTOR; sr.capacity === null && rate >= MIN_RATE; rate /= FACTOR) {
        const st = await run[p](rate);
        sr.steps.push(st);
        ctx.log(`  B3 ${p} at ${round(rate, 1)}/s (below the first step): p99 ${ms(st.measured.p99)}, ${st.errors} errors${st.errors ? ` (${st.errorSamples.join('; ')})` : ''}${st.drainProblem ? `, ${st.drainProblem}` : ''} → ${st.pass ? 'pass' : 'fail'}`);
        if (st.pass) sr.capacity = rate;
        await pause();
      }
    }

    return report(row, searches, { warmupMs, measureMs, holdMs, createRate: ctx.createRatePerSecond });
  } finally {
    for (const c of clients) c.close();
    await floor?.stop();
    await svc?.stop();
  }
}

const rate1 = (r: number) => `${round(r, 1)}/s`;

function report(row: RowResult, searches: Record<PathName, Search>, o: { warmupMs: number; measureMs: number; holdMs: number; createRate: number }): RowResult {
  const { accept, start } = searches;
  const stepAt = (sr: Search, rate: number | null) => (rate === null ? undefined : sr.steps.find((st) => st.rate === rate));
  /** The lowest failing rate above the capacity: the step that ended the search (upward or downward). */
  const firstFail = (sr: Search) => [...sr.steps].sort((x, y) => x.rate - y.rate).find((st) => !st.pass && st.rate > (sr.capacity ?? 0));
  const capText = (sr: Search) => (sr.capacity === null ? `below ${rate1(MIN_RATE)}` : sr.steps.every((st) => st.pass) ? `≥ ${rate1(sr.capacity)}` : rate1(sr.capacity));
  const failText = (st: Step | undefined) =>
    st ? `at ${rate1(st.rate)}: p99 ${ms(st.measured.p99)}${st.errors ? `, ${st.errors} errors (${st.errorSamples.join('; ')})` : ''}${st.drainProblem ? `, ${st.drainProblem}` : ''}` : 'no step failed';
  // CPU per request at the highest rate both passed (else the first step of each)
  const common = Math.min(accept.capacity ?? FIRST_RATE, start.capacity ?? FIRST_RATE);
  const cpuAt = (sr: Search) => stepAt(sr, common) ?? sr.steps[0];
  const cpuTotal = (st: Step | undefined) => (st ? Object.values(st.cpuMsPerRequest).reduce((a, b) => a + b, 0) : NaN);
  const cpuText = (st: Step | undefined) =>
    st
      ? `${ms(cpuTotal(st))} (${Object.entries(st.cpuMsPerRequest)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${round(v, 1)}`)
          .join(', ')}) at ${rate1(st.rate)}`
      : '?';
  const acceptCpu = cpuAt(accept);
  const startCpu = cpuAt(start);
  const a = stepAt(accept, accept.capacity);
  const b = stepAt(start, start.capacity);

  const ratio = accept.capacity !== null && start.capacity ? accept.capacity / start.capacity : null;
  row.figures = {
    accept_capacity_per_s: accept.capacity === null ? null : round(accept.capacity, 1),
    accept_p50_ms_at_capacity: a ? round(a.measured.p50) : null,
    accept_p99_ms_at_capacity: a ? round(a.measured.p99) : null,
    accept_capacity_is_lower_bound: accept.steps.every((st) => st.pass),
    bare_start_capacity_per_s: start.capacity === null ? null : round(start.capacity, 1),
    capacity_ratio: ratio === null ? null : round(ratio, 2),
    cpu_ms_per_accept: round(cpuTotal(acceptCpu), 1),
    cpu_ms_per_start: round(cpuTotal(startCpu), 1),
    cpu_measured_at_per_s: round(common, 1),
    p99_budget_ms: P99_BUDGET_MS,
    steps: JSON.stringify(
      Object.fromEntries(
        (['accept', 'start'] as const).map((p) => [p, searches[p].steps.map((st) => ({ rate: round(st.rate, 1), p50: round(st.measured.p50), p99: round(st.measured.p99), errors: st.errors, pass: st.pass }))]),
      ),
    ),
  };
  row.floor = {
    capacity_per_s: start.capacity === null ? null : round(start.capacity, 1),
    p50_ms_at_capacity: b ? round(b.measured.p50) : null,
    p99_ms_at_capacity: b ? round(b.measured.p99) : null,
    cpu_ms_per_start: round(cpuTotal(startCpu), 1),
  };
  row.figureText =
    `accept capacity ${capText(accept)}${a ? ` (p50 ${ms(a.measured.p50)}, p99 ${ms(a.measured.p99)})` : ''}; next step ${failText(firstFail(accept))}; ` + `CPU per accept ${cpuText(acceptCpu)}`;
  row.floorText =
    `bare workflow starts: capacity ${capText(start)}${b ? ` (p50 ${ms(b.measured.p50)}, p99 ${ms(b.measured.p99)})` : ''}; next step ${failText(firstFail(start))}; ` + `CPU per start ${cpuText(startCpu)}`;
  row.ratio = ratio === null ? null : round(ratio, 2);
  row.ratioText = ratio === null ? '—' : `${row.ratio}× (capacity)`;
  row.pass = ratio !== null && ratio >= GOAL_RATIO;

  const stepsText = (sr: Search) =>
    [...sr.steps]
      .sort((x, y) => x.rate - y.rate)
      .map((st) => `${rate1(st.rate)} p50 ${ms(st.measured.p50)} p99 ${ms(st.measured.p99)}${st.errors ? ` ${st.errors} errors` : ''} ${st.pass ? '✓' : '✗'} (machine ${st.cpu.machineBusyPct}% busy, not ours ${st.cpu.othersPctOfCore}% of a core)`)
      .join(', ');
  row.notes.push(
    `Steps: ${o.warmupMs / 1000} s warm-up then ${o.measureMs / 1000} s measured, open loop; accepts from ${USERS} users × ${CONNECTIONS_PER_USER} keep-alive connections, starts from the bench's Temporal client. ` +
      `Every job created its prediction as accepted (the create queue limited to ${o.createRate}/s, the floor worker's the same) and the provider finished it ${o.holdMs / 1000} s later (the floor's signal as late), after the step; each step's backlog drained before the next. ` +
      `Accepts: ${stepsText(accept)}. Bare starts: ${stepsText(start)}.`,
  );
  const partsOf = (st: Step | undefined) => st?.parts && `the accept statement p50 ${ms(st.parts.db.p50)}, p99 ${ms(st.parts.db.p99)}; the workflow start p50 ${ms(st.parts.temporal.p50)}, p99 ${ms(st.parts.temporal.p99)}; the rest (HTTP, auth, validation, waiting for a CPU) p50 ${ms(st.parts.rest.p50)}, p99 ${ms(st.parts.rest.p99)}`;
  const fail = firstFail(accept);
  if (a?.parts || fail?.parts) {
    row.notes.push(`The accepts' parts (Server-Timing)${a?.parts ? `, at ${rate1(a.rate)}: ${partsOf(a)}` : ''}${fail?.parts ? `; at ${rate1(fail.rate)} (the first step over): ${partsOf(fail)}` : ''}.`);
  }
  row.notes.push(`CPU per request: our processes and the stack (not the bench's load generator and fake provider) during the measured window, over the requests sent in it; it includes what runs right after an accept or a start (the first workflow task, the create at the create queue's pace).`);
  const lag = Math.max(...accept.steps.concat(start.steps).map((st) => st.lagMs));
  if (lag > 20) row.notes.push(`The load generator fell up to ${ms(lag)} behind its schedule.`);
  if (!row.pass) {
    row.notes.push(
      ratio === null
        ? `Missed: ${start.capacity === null ? 'no bare-start step passed' : 'no accept step passed'}.`
        : `Missed: accept capacity ${rate1(accept.capacity!)} is ${round(ratio, 2)}× the bare start capacity ${rate1(start.capacity!)} (goal ≥ ${GOAL_RATIO}×).`,
    );
  }
  // the CPU evidence of the accepts' first step over (else their last step)
  row.cpu = (fail ?? accept.steps.at(-1))?.cpu;
  return row;
}
