/**
 * C3: the stack's Postgres restarted "fast" (pg_ctl restart -m fast: SIGINT to the postmaster,
 * which rolls back the sessions, checkpoints and exits; then started again on the same data dir)
 * mid-run (full: 40 jobs; quick: 10), about 40% into the submissions. During the outage the bench
 * keeps GETting the job list (a database read every time) and counts the answers: 503 (unavailable, retry) is the right
 * one, 500 is not.
 */
import type { RowResult } from '../report';
import { sleep } from '../stats';
import { chaosEmptyRow, chaosRow, mixedWorkload, type ChaosEnv, type PhaseControl } from './chaos';
import { outageGets } from './chaos-judge';

export function outageWorkload(quick: boolean) {
  return { name: 'C3/C4', specs: mixedWorkload(quick ? 10 : 40), submitOverMs: quick ? 5_000 : 16_000, settleTimeoutMs: quick ? 90_000 : 300_000 };
}

/** Runs `outage` about 40% into the workload's submissions and records it as the row's incident. */
export async function outageMidRun(control: PhaseControl, workload: ReturnType<typeof outageWorkload>, incident: string, outage: () => Promise<void>): Promise<void> {
  await sleep(workload.submitOverMs * 0.4 - control.now());
  const at = control.now();
  await outage();
  control.incident(incident, at, control.now());
}

export async function c3PostgresRestart(env: ChaosEnv): Promise<RowResult> {
  const workload = outageWorkload(env.ctx.quick);
  const row = chaosEmptyRow('C3', `Postgres fast restart during ${workload.specs.length} jobs`);
  let restart: { stopMs: number; startMs: number } | undefined;
  return chaosRow(
    env,
    row,
    workload,
    (control) =>
      outageMidRun(control, workload, 'Postgres fast restart', async () => {
        restart = await env.stack.restartPostgres();
      }),
    (run, judged) => [
      `Postgres took ${restart ? Math.round(restart.stopMs) : '?'} ms to stop and ${restart ? Math.round(restart.startMs) : '?'} ms to answer again; ${env.ctx.engine === 'cluster' ? "the cluster's persistence is on the same Postgres, so Temporal lost its database too" : 'Temporal stayed up'}.`,
      outageGets(run, judged, 'Postgres restarted'),
    ],
  );
}
