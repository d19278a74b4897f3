import { performance } from 'node:perf_hooks';
import { withDescendants } from '../../dev/process-tree';
import { commandOf, pidsMatching } from '../proc';
import type { BenchContext } from '../context';
import type { RowResult } from '../report';
import type { BenchUser, FloorWorker, Service } from '../service';
import { round, sleep } from '../stats';

export const MODEL = 'black-forest-labs/flux-schnell';
export const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

/**
 * A generation request. Small outputs (256×256 WebP): the rows measure our path around the
 * provider, not the fake provider's image encoder, which shares these cores.
 */
export function jobBody(prompt: string, parameters: Record<string, unknown> = {}) {
  return { model: MODEL, prompt, num_outputs: 1, output_format: 'webp', parameters: { width: 256, height: 256, ...parameters } };
}

/** POST /api/v1/generate; throws with the answer unless it is 202. */
export async function submit(svc: Service, user: BenchUser, body: unknown): Promise<{ jobId: string; ms: number }> {
  const res = await svc.http.json('POST', '/api/v1/generate', { json: body, headers: user.headers });
  if (res.status !== 202) throw new Error(`POST /api/v1/generate answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
  return { jobId: res.body.job_id, ms: res.ms };
}

/** Job counts by status, straight from the service's database. */
export async function jobCounts(svc: Service, ids?: string[]): Promise<Record<string, number>> {
  const rows = await svc.db.job.groupBy({ by: ['status'], _count: { _all: true }, ...(ids ? { where: { id: { in: ids } } } : {}) });
  return Object.fromEntries(rows.map((r) => [r.status, r._count._all]));
}

/** Waits until every one of `ids` is final; returns the counts by status and how long it took. */
export async function waitAllFinal(svc: Service, ids: string[], timeoutMs: number, log: (l: string) => void): Promise<{ counts: Record<string, number>; ms: number; timedOut: boolean }> {
  const started = performance.now();
  let lastLog = 0;
  for (;;) {
    const counts = await jobCounts(svc, ids.length <= 5000 ? ids : undefined);
    const final = [...TERMINAL].reduce((n, s) => n + (counts[s] ?? 0), 0);
    const ms = performance.now() - started;
    if (final >= ids.length) return { counts, ms, timedOut: false };
    if (ms > timeoutMs) return { counts, ms, timedOut: true };
    if (ms - lastLog > 15_000) {
      lastLog = ms;
      log(`  ${final}/${ids.length} jobs final (${JSON.stringify(counts)})`);
    }
    await sleep(500);
  }
}

/** Process groups for the CPU meter: the service, the floor worker, this process, the stack's servers. */
export function cpuGroups(ctx: BenchContext, svc?: Service, floor?: FloorWorker) {
  const roots = ctx.stackDataDir ? pidsMatching(ctx.stackDataDir).filter((p) => p !== process.pid) : [];
  const byName = (re: RegExp) => roots.filter((pid) => re.test(commandOf(pid)));
  const stack: Record<string, number[]> = {
    temporal: byName(/temporal/),
    postgres: byName(/postgres/),
    minio: byName(/minio/),
  };
  return () => ({
    ...(svc ? { api: [svc.api.pid], worker: svc.workers.map((w) => w.pid) } : {}),
    ...(floor ? { 'floor worker': [floor.proc.pid] } : {}),
    'bench (load + fake provider)': [process.pid],
    // Postgres forks a backend per connection: count the postmaster's descendants as they are now
    ...Object.fromEntries(Object.entries(stack).filter(([, pids]) => pids.length).map(([k, pids]) => [k, withDescendants(pids)])),
  });
}

export const ms = (n: number) => `${round(n, n < 10 ? 1 : 0)} ms`;
export const pct = (n: number) => `${round(n * 100, 1)}%`;

export function emptyRow(id: string, what: string, goal: string): RowResult {
  return { id, what, goal, figures: {}, figureText: '', floor: null, floorText: '—', ratio: null, ratioText: '—', pass: null, notes: [], seconds: 0 };
}

/** Why jobs are not final: each one's status and its workflow's pending activities (attempt, last failure). */
export async function describeUnfinished(ctx: BenchContext, svc: Service, ids: string[], limit = 3, providerApiBaseUrl = ctx.replicate.apiBaseUrl): Promise<string[]> {
  const open = await svc.db.job.findMany({ where: { id: { in: ids }, status: { notIn: [...TERMINAL] as never } }, take: limit, select: { id: true, status: true, workflowId: true, providerPredictionId: true } });
  const out: string[] = [];
  for (const job of open) {
    try {
      const d = await ctx.temporal.workflow.getHandle(job.workflowId).describe();
      let provider = '';
      if (job.providerPredictionId) {
        const res = await fetch(`${providerApiBaseUrl}/predictions/${job.providerPredictionId}`, { headers: { authorization: 'Bearer r8_test' } });
        const body = (await res.json().catch(() => ({}))) as { status?: string };
        provider = ` (provider says ${res.status === 200 ? body.status : `HTTP ${res.status}`})`;
      }
      const pending = (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt}${a.lastFailure?.message ? ` (last failure: ${a.lastFailure.message.slice(0, 120)})` : ''}`);
      out.push(`job ${job.id} ${job.status}, workflow ${d.status.name}, prediction ${job.providerPredictionId ?? 'none'}${provider}: ${pending.join('; ') || 'no pending activity (waiting for the webhook signal or the poll timer)'}`);
    } catch (err) {
      out.push(`job ${job.id} ${job.status}: ${(err as Error).message}`);
    }
  }
  return out;
}
