/**
 * B1: the overhead of one generation job. Sequential POST /generate with a zero-latency model,
 * timed until GET /status says succeeded (polled every POLL_MS), against the floor workflow
 * (same hops and signal, no-op activities) started and awaited directly on Temporal.
 * Blocks of real jobs and floor runs alternate, so a change in the machine's load hits both.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startFloorWorker, type BenchUser, type Service } from '../service';
import { round, sleep, summarize } from '../stats';
import { cpuGroups, emptyRow, jobBody, ms, submit, TERMINAL } from './common';

const POLL_MS = 10;
const BLOCK = 10;

export interface B1Extra {
  user: BenchUser;
  /** A succeeded job (B7 reads it). */
  jobId: string;
}

export async function b1JobOverhead(ctx: BenchContext, svc: Service): Promise<{ row: RowResult; extra?: B1Extra }> {
  const row = emptyRow('B1', 'overhead of one generation job', 'p50 ≤ floor + 40 ms; p50 ≤ 100 ms; p95 ≤ 200 ms');
  const n = ctx.quick ? 20 : 200;
  const warmup = ctx.quick ? 3 : 10;
  ctx.replicate.setKnobs({ latency_ms: 0, create_rate_limit_per_minute: null, failure_rate: 0 });
  const user = await svc.createUser();
  const body = jobBody('bench B1', { fake_latency_ms: 0 });
  const floor = await startFloorWorker(ctx, svc, 'b1');
  try {
    const views: Array<Record<string, any>> = [];
    const phases: { post: number[]; server: number[]; seen: number[] } = { post: [], server: [], seen: [] };
    const job = async (): Promise<number> => {
      const t0 = performance.now();
      const wall0 = Date.now();
      const { jobId, ms: postMs } = await submit(svc, user, body);
      for (;;) {
        const s = await svc.http.json('GET', `/api/v1/status/${jobId}`, { headers: user.headers });
        if (s.status !== 200) throw new Error(`GET /status answered ${s.status}`);
        if (TERMINAL.has(s.body.status)) {
          const elapsed = performance.now() - t0;
          views.push(s.body);
          // where the time went: the POST, accepted → completed (database clock), completed → seen by polling
          const created = Date.parse(s.body.created_at);
          const completed = Date.parse(s.body.completed_at);
          phases.post.push(postMs);
          phases.server.push(completed - created);
          phases.seen.push(wall0 + elapsed - completed);
          return elapsed;
        }
        await sleep(POLL_MS);
      }
    };
    const floorRun = async (): Promise<number> => {
      const t0 = performance.now();
      const handle = await ctx.temporal.workflow.start('floorGenerationJob', {
        taskQueue: floor.taskQueue,
        workflowId: `floor-b1-${randomUUID()}`,
        args: [{ signalDelayMs: 0 }],
      });
      await handle.result();
      return performance.now() - t0;
    };

    for (let i = 0; i < warmup; i++) {
      await job();
      await floorRun();
    }
    views.length = 0;
    for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k].length = 0;
    const ours: number[] = [];
    const floors: number[] = [];
    const cpu = cpuMeter(cpuGroups(ctx, svc, floor));
    // CPU per job of each kind, from the blocks' own meters (all our processes and the stack)
    const cpuMs = { ours: 0, floor: 0 };
    const metered = async (kind: keyof typeof cpuMs, count: number, run: () => Promise<number>, into: number[]) => {
      const m = cpuMeter(cpuGroups(ctx, svc, floor));
      for (let i = 0; i < count; i++) into.push(await run());
      const r = m.stop();
      cpuMs[kind] += (Object.values(r.byGroupPctOfCore).reduce((a, b) => a + b, 0) / 100) * r.seconds * 1000;
    };
    for (let done = 0; done < n; done += BLOCK) {
      await metered('ours', Math.min(BLOCK, n - done), job, ours);
      await metered('floor', Math.min(BLOCK, n - done), floorRun, floors);
    }
    row.cpu = cpu.stop();

    // Every job succeeded with its output in our bucket (checked after the clock stopped).
    let inBucket = 0;
    const failed = views.filter((v) => v.status !== 'succeeded').length;
    for (const v of views) {
      const out = v.outputs?.[0];
      if (!out) continue;
      const res = await fetch(out.url);
      const bytes = Buffer.from(await res.arrayBuffer());
      if (res.ok && bytes.length === out.size_bytes) inBucket++;
    }

    const o = summarize(ours);
    const f = summarize(floors);
    const overhead = o.p50 - f.p50;
    row.figures = { jobs: n, p50_ms: round(o.p50), p95_ms: round(o.p95), p99_ms: round(o.p99), max_ms: round(o.max), overhead_p50_ms: round(overhead), failed, outputs_in_bucket: inBucket, poll_interval_ms: POLL_MS };
    Object.assign(row.figures, {
      p50_post_ms: round(summarize(phases.post).p50),
      p50_accepted_to_completed_ms: round(summarize(phases.server).p50),
      p50_completed_to_seen_ms: round(summarize(phases.seen).p50),
      cpu_ms_per_job: round(cpuMs.ours / n),
    });
    row.floor = { runs: floors.length, p50_ms: round(f.p50), p95_ms: round(f.p95), p99_ms: round(f.p99), cpu_ms_per_job: round(cpuMs.floor / floors.length) };
    row.figureText = `${n} jobs: p50 ${ms(o.p50)}, p95 ${ms(o.p95)} (p50 − floor = ${ms(overhead)}); ${inBucket}/${n} outputs in bucket`;
    row.floorText = `p50 ${ms(f.p50)}, p95 ${ms(f.p95)}`;
    row.ratio = round(o.p50 / f.p50, 2);
    row.ratioText = `${row.ratio}× (p50)`;
    const misses: string[] = [];
    if (overhead > 40) misses.push(`p50 is ${ms(overhead)} above the floor (goal ≤ 40 ms)`);
    if (o.p50 > 100) misses.push(`p50 ${ms(o.p50)} > 100 ms`);
    if (o.p95 > 200) misses.push(`p95 ${ms(o.p95)} > 200 ms`);
    if (failed || inBucket < n) misses.push(`${failed} jobs did not succeed, ${n - inBucket} outputs not found in the bucket`);
    row.pass = misses.length === 0;
    row.notes.push(
      `Status polled every ${POLL_MS} ms; outputs 256×256 WebP. p50 of the parts: POST /generate ${ms(summarize(phases.post).p50)}, ` +
        `accepted → completed (database timestamps) ${ms(summarize(phases.server).p50)}, completed → seen by the poll ${ms(summarize(phases.seen).p50)}. ` +
        `CPU per job (our processes and the stack): ${ms(cpuMs.ours / n)}, floor ${ms(cpuMs.floor / floors.length)}.`,
    );
    if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
    if (f.p50 > 60) row.notes.push(`The floor alone (Temporal: 2 activity hops, a timer and 1 signal) takes ${ms(f.p50)} at p50 here.`);
    const jobsPerSecond = 1000 / o.p50;
    if (jobsPerSecond > ctx.createRatePerSecond * 0.9) {
      row.notes.push(`Sequential jobs run at ~${round(jobsPerSecond)}/s, near the create queue's rate limit of ${ctx.createRatePerSecond}/s, which can add wait to both figure and floor.`);
    }
    const sample = views.find((v) => v.status === 'succeeded');
    return { row, extra: sample ? { user, jobId: sample.job_id } : undefined };
  } finally {
    await floor.stop();
  }
}
