/**
 * C4: the Temporal server SIGKILLed mid-run and started again 1 s later with the same arguments
 * (the dev server keeps its state in its --db-filename SQLite file, so workflows, timers and
 * task queues survive), about 40% into the submissions of the same workload as C3 (full: 40 jobs;
 * quick: 10). On the cluster engine one of its two nodes is SIGKILLed and its supervisor starts
 * it again (as an orchestrator would), while the other node keeps serving through the frontend
 * balancer. POSTs that fail meanwhile are retried with the same Idempotency-Key; the bench counts
 * the API's answers to job-list GETs meanwhile.
 */
import type { RowResult } from '../report';
import { sleep } from '../stats';
import { chaosEmptyRow, chaosRow, type ChaosEnv } from './chaos';
import { outageGets } from './chaos-judge';
import { outageMidRun, outageWorkload } from './c3-postgres-restart';

const RESTART_AFTER_MS = 1000;

export async function c4TemporalRestart(env: ChaosEnv): Promise<RowResult> {
  const workload = outageWorkload(env.ctx.quick);
  const onCluster = env.ctx.engine === 'cluster';
  const what = onCluster ? 'one of 2 Temporal nodes SIGKILLed and restarted by its supervisor' : 'Temporal server SIGKILLed and restarted';
  const row = chaosEmptyRow('C4', `${what} during ${workload.specs.length} jobs`);
  let startMs: number | undefined;
  return chaosRow(
    env,
    row,
    workload,
    (control) =>
      outageMidRun(control, workload, onCluster ? 'Temporal node SIGKILL, restarted by its supervisor' : 'Temporal server SIGKILL and restart', async () => {
        await env.stack.killTemporal();
        await sleep(RESTART_AFTER_MS);
        startMs = (await env.stack.startTemporal()).startMs;
      }),
    (run, judged) => [
      onCluster
        ? `The killed node served again ${startMs === undefined ? '?' : Math.round((startMs + RESTART_AFTER_MS) / 100) / 10} s after the kill (its supervisor's backoff and start-up); the other node kept serving; Postgres stayed up.`
        : `Temporal was started again ${RESTART_AFTER_MS / 1000} s after the kill and served ${startMs === undefined ? '?' : Math.round(startMs)} ms later; Postgres stayed up.`,
      outageGets(run, judged, onCluster ? 'a node was down' : 'Temporal was down'),
    ],
  );
}
