/**
 * What the isolation rows (F1–F3) share: jobs submitted by one account at a fixed pace, and each
 * job's latency from the moment its POST was sent to its `completed_at` (the database's clock,
 * the same machine's clock as the bench's), so no status polling adds load or noise.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { openLoop } from '../http-client';
import type { BenchContext } from '../context';
import type { BenchUser, Service } from '../service';
import { sleep, summarize, type Summary } from '../stats';
import { waitAllFinal } from './common';

export interface Sent {
  /** The job's index in its series (the body was built with it). */
  index: number;
  jobId: string;
  /** Date.now() when the POST was sent. */
  sentAt: number;
  postMs: number;
}

/** A POST that failed for want of a resource (503, network error) is sent again after this, with the same Idempotency-Key. */
const RESEND_AFTER_MS = 1000;
const MAX_SENDS = 4;

/**
 * `count` jobs of `user`, one every `everyMs` (on a fixed schedule). A POST answered 503 or lost
 * is sent again (same Idempotency-Key) as a client would, and its latency still counts from the
 * first send; `resent` says how often. Throws on any other answer than 202.
 */
export async function submitPaced(svc: Service, user: BenchUser, count: number, everyMs: number, body: (i: number) => unknown): Promise<Sent[] & { resent: number }> {
  const sent = Object.assign([] as Sent[], { resent: 0 });
  if (count <= 0) return sent;
  const errors: string[] = [];
  await openLoop({
    ratePerSecond: 1000 / everyMs,
    durationMs: count * everyMs,
    // never rejects: openLoop settles its calls only after the last one is sent
    send: async (i) => {
      const sentAt = Date.now();
      const headers = { ...user.headers, 'idempotency-key': `bench-${randomUUID()}` };
      for (let attempt = 1; ; attempt++) {
        let last: string;
        try {
          const res = await svc.http.json('POST', '/api/v1/generate', { json: body(i), headers });
          if (res.status === 202) {
            sent.push({ index: i, jobId: res.body.job_id, sentAt, postMs: res.ms });
            return;
          }
          last = `${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`;
          if (res.status !== 503) return void errors.push(last);
        } catch (err) {
          last = (err as Error).message;
        }
        if (attempt >= MAX_SENDS) return void errors.push(`${last} (after ${attempt} sends)`);
        sent.resent++;
        await sleep(RESEND_AFTER_MS);
      }
    },
  });
  if (errors.length) throw new Error(`POST /api/v1/generate failed ${errors.length} times; first: ${errors[0]}`);
  return sent;
}

export interface Latencies {
  /** POST sent → completed_at, ms, of the jobs that succeeded. */
  ms: number[];
  summary: Summary;
  succeeded: number;
  jobs: number;
  completedAt: Map<string, number>;
  /** Where the time went, per succeeded job (ms): the POST; accepted → running (the create queue); running → the provider done; → completed. */
  phases: { post: number[]; toRunning: number[]; provider: number[]; finishing: number[] };
}

/** "p50 / p99" of each phase, for a note. */
export function phasesText(p: Latencies['phases']): string {
  const f = (xs: number[]) => `${Math.round(summarize(xs).p50)} / ${Math.round(summarize(xs).p99)} ms`;
  return `POST ${f(p.post)}, accepted → running ${f(p.toRunning)}, running → provider done ${f(p.provider)}, → completed ${f(p.finishing)}`;
}

/** Waits until every job is final and returns POST → completed latencies. */
export async function latenciesOf(ctx: BenchContext, svc: Service, sent: Sent[], timeoutMs: number): Promise<Latencies> {
  const ids = sent.map((s) => s.jobId);
  await waitAllFinal(svc, ids, timeoutMs, ctx.log);
  const rows = await svc.db.job.findMany({
    where: { id: { in: ids } },
    select: { id: true, status: true, createdAt: true, startedAt: true, providerCompletedAt: true, completedAt: true },
  });
  const phases: Latencies['phases'] = { post: [], toRunning: [], provider: [], finishing: [] };
  const byId = new Map(rows.map((r) => [r.id, r]));
  const ms: number[] = [];
  const completedAt = new Map<string, number>();
  for (const s of sent) {
    const job = byId.get(s.jobId);
    if (job?.status !== 'succeeded' || !job.completedAt) continue;
    completedAt.set(s.jobId, job.completedAt.getTime());
    ms.push(job.completedAt.getTime() - s.sentAt);
    phases.post.push(s.postMs);
    if (job.startedAt && job.providerCompletedAt) {
      phases.toRunning.push(job.startedAt.getTime() - job.createdAt.getTime());
      phases.provider.push(job.providerCompletedAt.getTime() - job.startedAt.getTime());
      phases.finishing.push(job.completedAt.getTime() - job.providerCompletedAt.getTime());
    }
  }
  return { ms, summary: summarize(ms), succeeded: ms.length, jobs: sent.length, completedAt, phases };
}

/** Connections to the service's database right now, by application_name (pg_stat_activity). */
export async function databaseConnections(svc: Service): Promise<{ total: number; byApplication: Record<string, number> }> {
  const rows = await svc.db.$queryRaw<Array<{ app: string; n: number }>>`
    SELECT coalesce(nullif(application_name, ''), '(none)') AS app, count(*)::int AS n
    FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1 ORDER BY 1`;
  const byApplication = Object.fromEntries(rows.map((r) => [r.app, r.n]));
  return { total: rows.reduce((n, r) => n + r.n, 0), byApplication };
}

/**
 * The TCP connections process `pid` holds to `port` (its sockets in /proc/<pid>/fd matched with
 * /proc/net/tcp{,6}): e.g. the API process's own Postgres connections, apart from the worker's
 * and the bench's, which pg_stat_activity cannot tell apart.
 */
export function tcpConnectionsOf(pid: number, port: number): number {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return NaN;
  }
  const inodes = new Set<string>();
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address rem_address st ... inode (field 9); st 01 = ESTABLISHED
      if (f.length > 9 && f[2]!.endsWith(`:${hexPort}`) && f[3] === '01' && inodes.has(f[9]!)) n++;
    }
  }
  return n;
}
