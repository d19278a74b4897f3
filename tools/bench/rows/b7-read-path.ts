/**
 * B7: the read path. GET /api/v1/status/{id} of a finished job over 50 keep-alive connections
 * (closed loop) from this process. Floor: GET /health of the same API process (Express and the
 * HTTP stack, no database, no presigning) with the same connections and load generator.
 */
import { authenticate } from '../../../src/accounts/service';
import { loadConfig } from '../../../src/config';
import { jobView } from '../../../src/jobs/serialize';
import { getOwnJob } from '../../../src/jobs/rows';
import { createDependencies } from '../../../src/dependencies';
import type { BenchContext } from '../context';
import { closedLoop } from '../http-client';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import type { BenchUser, Service } from '../service';
import { round, summarize } from '../stats';
import { cpuGroups, emptyRow, jobBody, ms, submit, waitAllFinal } from './common';

const CONNECTIONS = 50;

export async function b7ReadPath(ctx: BenchContext, svc: Service, fromB1?: { user: BenchUser; jobId: string }): Promise<RowResult> {
  const row = emptyRow('B7', 'read path: GET /status', '≥ 1,500 req/s; p99 ≤ 50 ms');
  const durationMs = ctx.quick ? 3_000 : 20_000;
  const warmupMs = ctx.quick ? 1_000 : 3_000;
  let target = fromB1;
  if (!target) {
    ctx.replicate.setKnobs({ latency_ms: 0, create_rate_limit_per_minute: null });
    const user = await svc.createUser();
    const { jobId } = await submit(svc, user, jobBody('bench B7'));
    await waitAllFinal(svc, [jobId], 60_000, ctx.log);
    target = { user, jobId };
  }

  const floorCpu = cpuMeter(cpuGroups(ctx, svc));
  const floor = await closedLoop({ baseUrl: svc.baseUrl, path: '/health', connections: CONNECTIONS, durationMs, warmupMs });
  const floorCpuReport = floorCpu.stop();
  const cpu = cpuMeter(cpuGroups(ctx, svc));
  const r = await closedLoop({ baseUrl: svc.baseUrl, path: `/api/v1/status/${target.jobId}`, headers: target.user.headers, connections: CONNECTIONS, durationMs, warmupMs });
  row.cpu = cpu.stop();

  const apiCpuMsPerRequest = ((row.cpu.byGroupPctOfCore.api ?? 0) / 100) * row.cpu.seconds * 1000 / Math.max(1, r.rps * r.seconds);
  const floorApiCpuMsPerRequest = ((floorCpuReport.byGroupPctOfCore.api ?? 0) / 100) * floorCpuReport.seconds * 1000 / Math.max(1, floor.rps * floor.seconds);
  const parts = await cpuPerStep(svc, target.user, target.jobId);
  const s = summarize(r.latencies);
  const f = summarize(floor.latencies);
  row.figures = { connections: CONNECTIONS, seconds: round(r.seconds), rps: round(r.rps), p50_ms: round(s.p50, 1), p99_ms: round(s.p99, 1), max_ms: round(s.max), errors: r.errors, statuses: JSON.stringify(r.statuses) };
  Object.assign(row.figures, { api_cpu_ms_per_request: round(apiCpuMsPerRequest, 2), ...Object.fromEntries(Object.entries(parts).map(([k, v]) => [`cpu_ms_${k}`, round(v, 3)])) });
  row.floor = { path: '/health', api_cpu_ms_per_request: round(floorApiCpuMsPerRequest, 2), rps: round(floor.rps), p50_ms: round(f.p50, 1), p99_ms: round(f.p99, 1), errors: floor.errors, api_cpu_pct_of_core: floorCpuReport.byGroupPctOfCore.api ?? null };
  row.figureText = `${round(r.rps)} req/s, p50 ${ms(s.p50)}, p99 ${ms(s.p99)}, ${r.errors} errors (${CONNECTIONS} connections, ${round(r.seconds)} s)`;
  row.floorText = `GET /health: ${round(floor.rps)} req/s, p99 ${ms(f.p99)}`;
  row.ratio = round(r.rps / floor.rps, 2);
  row.ratioText = `${row.ratio}× (req/s)`;
  const misses: string[] = [];
  if (r.rps < 1500) misses.push(`${round(r.rps)} req/s < 1,500`);
  if (s.p99 > 50) misses.push(`p99 ${ms(s.p99)} > 50 ms`);
  if (r.errors) misses.push(`${r.errors} errors`);
  row.pass = misses.length === 0;
  row.notes.push(
    `API CPU per request ≈ ${round(apiCpuMsPerRequest, 2)} ms (GET /health: ${round(floorApiCpuMsPerRequest, 2)} ms); ` +
      `steps measured one at a time in the bench process: API-key lookup in the database ${round(parts.auth!, 2)} ms ` +
      `(skipped while the API has the key cached), job + outputs ${round(parts.job!, 2)} ms (1 query), presigning the output URL ${round(parts.presign!, 2)} ms, ` +
      `the whole view (presign + shape) ${round(parts.view!, 2)} ms.`,
  );
  if (misses.length) {
    row.notes.push(`Missed: ${misses.join('; ')}.`);
    const api = row.cpu.byGroupPctOfCore.api ?? 0;
    if (api >= 85) row.notes.push(`The API process used ${api}% of a core: it is CPU-bound (one Node event loop).`);
    if (row.cpu.machineBusyPct >= 90) row.notes.push(`The machine was ${row.cpu.machineBusyPct}% busy: the load generator, Postgres and the API share ${row.cpu.cores} cores.`);
  }
  return row;
}

/** CPU milliseconds per call of each step of GET /status, in this process (sequential, after a warm-up). */
async function cpuPerStep(svc: Service, user: BenchUser, jobId: string): Promise<Record<string, number>> {
  const config = loadConfig(svc.env);
  const runtime = createDependencies(config);
  try {
    const job = await getOwnJob(runtime.db, user.id, jobId);
    const key = job.outputs[0]?.s3Key ?? `jobs/${jobId}/0.webp`;
    const steps: Record<string, () => Promise<unknown>> = {
      auth: () => authenticate(runtime.db, config.apiKeyPepper, user.apiKey),
      job: () => getOwnJob(runtime.db, user.id, jobId),
      presign: () => runtime.storage.presignGet(key),
      view: () => jobView(runtime.storage, job),
    };
    const out: Record<string, number> = {};
    for (const [name, step] of Object.entries(steps)) {
      for (let i = 0; i < 50; i++) await step();
      const n = 300;
      const c0 = process.cpuUsage();
      for (let i = 0; i < n; i++) await step();
      const c = process.cpuUsage(c0);
      out[name] = (c.user + c.system) / 1000 / n;
    }
    return out;
  } finally {
    await runtime.close();
  }
}
