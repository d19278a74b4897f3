/**
 * B9: what one unit of work costs in Temporal and in CPU. For a generation job (1 output, and 2
 * outputs), the same 1-output job with a `webhook` (to a local receiver that answers 200), a
 * prompt on a trained model and a training: Temporal actions as Temporal Cloud bills them,
 * history events and workflow tasks, counted from the real histories of the workflows each one
 * ran (tools/bench/history-count.ts), and CPU per job of each process (API, worker, Temporal,
 * Postgres). Beside them, the same for the floor workflow (tools/bench/floor-workflows.ts,
 * floorGenerationJob) on its no-op worker.
 *
 * The floor: floorGenerationJob is the Temporal shape of a 1-output generation job as
 * tools/bench/floor-workflows.ts writes it, with no-op activities (its hops, timer and signal are
 * counted from its histories like the jobs', not assumed). It is the only floor there is: the
 * 2-output job and the prompt (a generation on a trained model) are set beside it too, and a
 * training has none (its shape, zip then create then wait with progress, has no floor workflow).
 *
 * "Caused" workflows: every workflow on the service's task queues that started between a job's
 * POST and the moment everything it started had closed, other than its own and those a schedule
 * started (the reconciliation and expiry schedules). Jobs run one at a time, each waited for with
 * everything it caused, so nothing else of ours runs in that window. The webhook variant's total
 * is its own workflow's actions plus its webhook delivery workflow's (woken by signal-with-start).
 *
 * CPU: each kind's samples run as one block under one meter (all inputs prepared before), and the
 * processes' idle use over the block's length (measured with nothing running, just before) is
 * taken off, so the figure is what the jobs added.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { workflowIds, taskQueues } from '../../../src/temporal/names';
import { paidPayment, photos } from '../../../test/helpers/factories';
import { startReceiver } from '../../../test/events/webhook-receiver';
import type { BenchContext } from '../context';
import { addCounts, countHistory, describeActions, type HistoryCount } from '../history-count';
import { postMultipartFiles } from '../http-client';
import { withComment } from '../photos';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startFloorWorker, startService, type BenchUser, type FloorWorker, type Service } from '../service';
import { round, sleep } from '../stats';
import { cpuGroups, emptyRow, jobBody } from './common';

/** Caused workflows are looked for this long after the job closed, and again this long after each look that found one. */
const SETTLE_MS = 500;
/** How long one sample (the job and everything it caused) may take before the row gives up on it. */
const SAMPLE_TIMEOUT_MS = 120_000;
const TRAINING_PHOTOS = 10;

type Kind = 'floor' | 'job1' | 'job2' | 'job1Webhook' | 'prompt' | 'training';

const LABEL: Record<Kind, string> = {
  floor: 'floor (floorGenerationJob)',
  job1: 'job ×1',
  job2: 'job ×2',
  job1Webhook: 'job ×1 + webhook',
  prompt: 'prompt ×1',
  training: 'training',
};

/** The processes the report names, and the meter's groups that make each. */
const PROCESSES: Record<string, string[]> = {
  API: ['api'],
  worker: ['worker', 'floor worker'],
  Temporal: ['temporal'],
  Postgres: ['postgres'],
};

interface Run {
  workflowId: string;
  runId?: string;
}

interface Sample {
  own: HistoryCount;
  caused: HistoryCount;
  causedTypes: string[];
  ok: boolean;
  settledInTime: boolean;
}

interface KindResult {
  samples: Sample[];
  /** CPU ms of each meter group, net of idle, summed over the samples. */
  cpuMs: Record<string, number>;
  seconds: number;
}

export async function b9ActionsPerJob(ctx: BenchContext): Promise<RowResult> {
  const row = emptyRow('B9', 'Temporal actions and CPU per job', 'reported, not judged: every sample succeeded and every workflow it caused closed and was counted');
  const n = ctx.quick ? 3 : 12;
  const trainings = ctx.quick ? 1 : 3;
  const rounds = ctx.quick ? 1 : 3;
  const receiver = await startReceiver();
  let svc: Service | undefined;
  let floor: FloorWorker | undefined;
  try {
    svc = await startService(ctx, 'b9');
    const s = svc;
    floor = await startFloorWorker(ctx, s, 'b9');
    const f = floor;
    ctx.replicate.setKnobs({ latency_ms: 0, failure_rate: 0, create_rate_limit_per_minute: null, other_rate_limit_per_minute: null, training_latency_ms: 1000 });
    const user = await s.createUser();
    const photoDir = path.join(ctx.runDir, 'b9-photos');
    fs.mkdirSync(photoDir, { recursive: true });
    const basePhotos = await photos(TRAINING_PHOTOS, 600);
    let trained: string | undefined;

    // ---- what one sample of each kind does: prepare (not metered), then run ----
    let next = 0;
    const prepare: Record<Kind, () => Promise<() => Promise<Run>>> = {
      floor: async () => async () => {
        const workflowId = `floor-b9-${randomUUID()}`;
        await ctx.temporal.workflow.start('floorGenerationJob', { taskQueue: f.taskQueue, workflowId, args: [{ signalDelayMs: 0 }] });
        return { workflowId };
      },
      job1: async () => () => postJob(s, user, jobBody(`bench B9 ${next++}`, { fake_latency_ms: 0 })),
      job2: async () => () => postJob(s, user, { ...jobBody(`bench B9 ${next++}`, { fake_latency_ms: 0 }), num_outputs: 2 }),
      job1Webhook: async () => {
        const i = next++;
        return () => postJob(s, user, { ...jobBody(`bench B9 ${i}`, { fake_latency_ms: 0 }), webhook: receiver.url(`/b9/${i}`) });
      },
      prompt: async () => {
        if (!trained) throw new Error('no trained model for the prompts');
        const versionId = trained;
        return async () => {
          const res = await s.http.json('POST', `/api/v1/prompts/create/${versionId}`, { json: { prompt: `TOK bench B9 ${next++}`, num_outputs: 1, width: 256, height: 256 }, headers: user.headers });
          if (res.status !== 202) throw new Error(`POST /prompts/create answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
          return { workflowId: workflowIds.generatePrompt(versionId) };
        };
      },
      training: async () => {
        const i = next++;
        const files = basePhotos.map((b, k) => {
          const file = path.join(photoDir, `${i}-${k}.jpg`);
          fs.writeFileSync(file, withComment(b, `bench B9 ${i} ${k}`)); // distinct across trainings
          return file;
        });
        const payment = await paidPayment(s.db, user.id);
        return async () => {
          const res = await postMultipartFiles(
            s.http,
            `/api/v1/versions/train/${payment.id}`,
            files.map((p) => ({ field: 'images', path: p, contentType: 'image/jpeg' })),
            {},
            user.headers,
          );
          if (res.status !== 202) throw new Error(`POST /versions/train answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
          trained = res.body.version_id as string;
          return { workflowId: workflowIds.trainModel(payment.id) };
        };
      },
    };

    const groups = cpuGroups(ctx, s, f);
    const queuesOf = (kind: Kind) => Object.values(taskQueues(kind === 'floor' ? f.taskQueue : s.taskQueue));
    const seen = new Set<string>();
    /** One sample: run it, wait for its workflow, then for every workflow it caused. */
    const sampleOf = async (kind: Kind, run: () => Promise<Run>): Promise<{ own: Run; caused: Run[]; ok: boolean; settledInTime: boolean; types: string[] }> => {
      const since = Date.now();
      const own = await run();
      const ok = await ctx.temporal.workflow
        .getHandle(own.workflowId)
        .result()
        .then(
          () => true,
          () => false,
        );
      const settled = await settleCaused(ctx, queuesOf(kind), since, seen, own);
      return { own, ok, caused: settled.runs, settledInTime: settled.inTime, types: settled.types };
    };

    const results = new Map<Kind, KindResult>();
    const block = async (kind: Kind, count: number, idle: IdleRates) => {
      const runs: Array<() => Promise<Run>> = [];
      for (let i = 0; i < count; i++) runs.push(await prepare[kind]());
      const before = cpuTicks(groups);
      const t0 = performance.now();
      const done = [];
      for (const run of runs) done.push(await sampleOf(kind, run));
      const seconds = (performance.now() - t0) / 1000;
      const used = cpuMsSince(groups, before);
      const r = results.get(kind) ?? { samples: [], cpuMs: {}, seconds: 0 };
      for (const [group, cpuMs] of Object.entries(used)) r.cpuMs[group] = (r.cpuMs[group] ?? 0) + cpuMs - (idle[group] ?? 0) * seconds;
      r.seconds += seconds;
      for (const d of done) {
        const own = countHistory(await ctx.temporal.workflow.getHandle(d.own.workflowId, d.own.runId).fetchHistory());
        const caused = addCounts(await Promise.all(d.caused.map(async (c) => countHistory(await ctx.temporal.workflow.getHandle(c.workflowId, c.runId).fetchHistory()))));
        r.samples.push({ own, caused, causedTypes: d.types, ok: d.ok, settledInTime: d.settledInTime });
      }
      results.set(kind, r);
    };

    // ---- warm-up (not counted): a training (its model takes the prompts), then one of each ----
    for (const kind of ['training', 'floor', 'job1', 'job2', 'job1Webhook', 'prompt'] as const) await sampleOf(kind, await prepare[kind]());

    // ---- idle use of every process, then the blocks, in rounds so that a change of load hits every kind ----
    const idle = await idleRates(groups, ctx.quick ? 3000 : 8000);
    ctx.log(`  B9: idle use (ms of CPU a second): ${Object.entries(idle).map(([k, v]) => `${k} ${round(v, 1)}`).join(', ')}`);
    const share = (total: number, r: number) => Math.floor((total * (r + 1)) / rounds) - Math.floor((total * r) / rounds);
    const overall = cpuMeter(groups);
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['floor', 'job1', 'job2', 'job1Webhook', 'prompt'] as const) await block(kind, share(n, r), idle);
      if (share(trainings, r) > 0) await block('training', share(trainings, r), idle);
    }
    row.cpu = overall.stop();

    return report(row, results, idle, { n, trainings, perProcessMeasured: Boolean(ctx.stackDataDir) });
  } finally {
    await floor?.stop();
    await svc?.stop();
    await receiver.close();
  }
}

async function postJob(svc: Service, user: BenchUser, body: unknown): Promise<Run> {
  const res = await svc.http.json('POST', '/api/v1/generate', { json: body, headers: user.headers });
  if (res.status !== 202) throw new Error(`POST /api/v1/generate answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  return { workflowId: workflowIds.generationJob(res.body.job_id as string) };
}

/**
 * The workflows on `queues` started since `sinceMs` that are new to `seen` and not started by a
 * schedule: `own` (its run id is taken from the listing) and the ones it caused, each awaited
 * until closed. Looked for SETTLE_MS after the job closed, then again SETTLE_MS after the last
 * look that found something, so a workflow that a caused one starts is found too. Two
 * visibility queries for most jobs: the bench's own cost in the CPU figures stays small, and
 * is the same for the floor.
 */
async function settleCaused(ctx: BenchContext, queues: string[], sinceMs: number, seen: Set<string>, own: Run): Promise<{ runs: Run[]; types: string[]; inTime: boolean }> {
  const query = `(${queues.map((q) => `TaskQueue = '${q}'`).join(' OR ')}) AND StartTime >= '${new Date(sinceMs - 1000).toISOString()}'`;
  const runs: Run[] = [];
  const types: string[] = [];
  const deadline = Date.now() + SAMPLE_TIMEOUT_MS;
  for (;;) {
    await sleep(SETTLE_MS);
    let found = 0;
    for await (const wf of ctx.temporal.workflow.list({ query })) {
      if (seen.has(wf.runId) || wf.raw.searchAttributes?.indexedFields?.TemporalScheduledById) continue;
      seen.add(wf.runId);
      found++;
      if (wf.workflowId === own.workflowId && !own.runId) own.runId = wf.runId;
      else {
        runs.push({ workflowId: wf.workflowId, runId: wf.runId });
        types.push(wf.type);
      }
      await ctx.temporal.workflow
        .getHandle(wf.workflowId, wf.runId)
        .result()
        .catch(() => undefined);
    }
    if (found === 0 && own.runId) return { runs, types, inTime: true };
    if (Date.now() > deadline) return { runs, types, inTime: false };
  }
}

/** CPU ms per second of each meter group with nothing running. */
type IdleRates = Record<string, number>;

async function idleRates(groups: () => Record<string, number[]>, ms: number): Promise<IdleRates> {
  const before = cpuTicks(groups);
  const t0 = performance.now();
  await sleep(ms);
  const used = cpuMsSince(groups, before);
  const seconds = (performance.now() - t0) / 1000;
  return Object.fromEntries(Object.entries(used).map(([g, v]) => [g, v / seconds]));
}

const CLK_TCK = 100; // USER_HZ (getconf CLK_TCK), as tools/bench/proc.ts

/**
 * CPU ticks used so far by each process of the groups. cpuMeter (tools/bench/proc.ts) reports whole
 * percents of a core, about 10 ms per job here: too coarse for a per-job figure, so the row reads
 * the ticks itself (utime + stime of /proc/<pid>/stat).
 */
function cpuTicks(groups: () => Record<string, number[]>): Map<number, number> {
  const out = new Map<number, number>();
  for (const pids of Object.values(groups())) {
    for (const pid of pids) {
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.set(pid, Number(rest[11]) + Number(rest[12]));
      } catch {
        /* gone */
      }
    }
  }
  return out;
}

/** CPU ms of each group since `before` (a process that appeared since counts its whole life, as in cpuMeter). */
function cpuMsSince(groups: () => Record<string, number[]>, before: Map<number, number>): Record<string, number> {
  const now = cpuTicks(groups);
  return Object.fromEntries(
    Object.entries(groups()).map(([g, pids]) => [g, (pids.reduce((sum, pid) => sum + Math.max(0, (now.get(pid) ?? before.get(pid) ?? 0) - (before.get(pid) ?? 0)), 0) * 1000) / CLK_TCK]),
  );
}

const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
/** "13" when every sample agrees, "13–14 (mean 13.5)" when they do not. */
function spread(xs: number[]): string {
  const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
  return lo === hi ? String(lo) : `${lo}–${hi} (mean ${round(avg(xs), 1)})`;
}

function report(row: RowResult, results: Map<Kind, KindResult>, idle: IdleRates, o: { n: number; trainings: number; perProcessMeasured: boolean }): RowResult {
  const perJob = (r: KindResult) => {
    const count = r.samples.length;
    const byProcess = Object.fromEntries(Object.entries(PROCESSES).map(([name, gs]) => [name, gs.reduce((sum, g) => sum + (r.cpuMs[g] ?? 0), 0) / count]));
    return { byProcess, total: Object.values(byProcess).reduce((a, b) => a + b, 0) };
  };
  const cpuText = (r: KindResult) => {
    const c = perJob(r);
    if (!o.perProcessMeasured) return `CPU ${round(c.total)} ms (API and worker only: the stack was reused)`;
    return `CPU ${round(c.total)} ms (${Object.entries(c.byProcess).map(([k, v]) => `${k} ${round(v)}`).join(', ')})`;
  };
  const countsText = (samples: Sample[], which: 'own' | 'caused' | 'total') => {
    const pick = (smp: Sample) => (which === 'own' ? smp.own : which === 'caused' ? smp.caused : addCounts([smp.own, smp.caused]));
    return {
      actions: spread(samples.map((x) => pick(x).actions)),
      events: spread(samples.map((x) => pick(x).events)),
      tasks: spread(samples.map((x) => pick(x).workflowTasks)),
    };
  };

  const parts: string[] = [];
  const notes: string[] = [];
  let failed = 0;
  let unsettled = 0;
  for (const kind of ['job1', 'job2', 'job1Webhook', 'prompt', 'training'] as const) {
    const r = results.get(kind);
    if (!r) continue;
    failed += r.samples.filter((x) => !x.ok).length;
    unsettled += r.samples.filter((x) => !x.settledInTime).length;
    const own = countsText(r.samples, 'own');
    const total = countsText(r.samples, 'total');
    const causedActions = r.samples.map((x) => x.caused.actions);
    const c = perJob(r);
    const key = kind.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`);
    Object.assign(row.figures, {
      [`${key}_samples`]: r.samples.length,
      [`${key}_actions`]: round(avg(r.samples.map((x) => x.own.actions)), 1),
      [`${key}_history_events`]: round(avg(r.samples.map((x) => x.own.events)), 1),
      [`${key}_workflow_tasks`]: round(avg(r.samples.map((x) => x.own.workflowTasks)), 1),
      [`${key}_caused_actions`]: round(avg(causedActions), 1),
      [`${key}_total_actions`]: round(avg(r.samples.map((x) => x.own.actions + x.caused.actions)), 1),
      [`${key}_cpu_ms`]: round(c.total),
      ...Object.fromEntries(Object.entries(c.byProcess).map(([p, v]) => [`${key}_cpu_ms_${p.toLowerCase()}`, round(v, 1)])),
    });
    const caused = avg(causedActions) > 0 ? `; + ${spread(causedActions)} in the workflows it caused (${[...new Set(r.samples.flatMap((x) => x.causedTypes))].join(', ')}) = ${total.actions} in all` : '';
    parts.push(`${LABEL[kind]}: ${own.actions} actions${caused}, ${own.events} events, ${own.tasks} workflow tasks, ${cpuText(r)}`);
    const example = r.samples[0];
    if (example) notes.push(`${LABEL[kind]}: ${describeActions(example.own)}${example.caused.actions ? `; caused: ${describeActions(example.caused)}` : ''}.`);
  }
  const fl = results.get('floor');
  if (fl) {
    const own = countsText(fl.samples, 'own');
    const c = perJob(fl);
    row.floor = {
      samples: fl.samples.length,
      actions: round(avg(fl.samples.map((x) => x.own.actions)), 1),
      history_events: round(avg(fl.samples.map((x) => x.own.events)), 1),
      workflow_tasks: round(avg(fl.samples.map((x) => x.own.workflowTasks)), 1),
      cpu_ms: round(c.total),
      ...Object.fromEntries(Object.entries(c.byProcess).map(([p, v]) => [`cpu_ms_${p.toLowerCase()}`, round(v, 1)])),
    };
    row.floorText = `1-output floor (floorGenerationJob, no-op activities): ${own.actions} actions, ${own.events} events, ${own.tasks} workflow tasks, ${cpuText(fl)}; no floor of a 2-output job, prompt or training`;
    const example = fl.samples[0];
    if (example) notes.unshift(`Floor: ${describeActions(example.own)}.`);
    failed += fl.samples.filter((x) => !x.ok).length;
  }
  const job1 = results.get('job1');
  if (job1 && fl) {
    row.ratio = round(avg(job1.samples.map((x) => x.own.actions)) / avg(fl.samples.map((x) => x.own.actions)), 2);
    row.ratioText = `${row.ratio}× (job ×1 actions), CPU ${round(perJob(job1).total / Math.max(perJob(fl).total, 1), 2)}×`;
  }
  row.figureText = parts.join('; ');
  row.figures.failed = failed;
  row.figures.unsettled = unsettled;
  row.pass = failed === 0 && unsettled === 0 && parts.length === 5;
  row.notes.push(
    `Samples per kind: ${o.n} (training ${o.trainings}), one at a time, after a warm-up of one each; model latency 0 (training 1 s), outputs 256×256 WebP. ` +
      `Actions as Temporal Cloud bills them, from each run's history (tools/bench/history-count.ts); a range means the samples differed. ` +
      `CPU per job: each kind's block under one meter, from /proc ticks, net of each process's idle use (ms of CPU a second: ${Object.entries(idle).map(([k, v]) => `${k} ${round(v, 1)}`).join(', ')}), ` +
      `and including the bench's waiting (a long poll for the result, a visibility query ${SETTLE_MS} ms after the job closed and again ${SETTLE_MS} ms later), the same for the floor. ` +
      `What bills them: ${notes.join(' ')}`,
  );
  if (failed) row.notes.push(`Missed: ${failed} samples did not succeed.`);
  if (unsettled) row.notes.push(`Missed: ${unsettled} samples still had a caused workflow open after ${SAMPLE_TIMEOUT_MS / 1000} s.`);
  return row;
}

