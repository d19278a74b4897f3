/**
 * C2: every process of the service SIGKILLed at once — the API, both workers and the local
 * provider (its own process, persisting its predictions in REPLICATE_LOCAL_DATA_DIR) — with the
 * jobs in flight, then all started again 1 s later (full: 50 jobs; quick: 10). The jobs are POSTed
 * at once; the kill comes when half of them have a provider prediction (or after 8 s).
 * Temporal and Postgres are the stack's and stay up.
 */
import type { RowResult } from '../report';
import { sleep } from '../stats';
import { apiAnswers, chaosEmptyRow, chaosRow, mixedWorkload, type ChaosEnv } from './chaos';

const RESTART_AFTER_MS = 1000;

export async function c2ServiceKill(env: ChaosEnv): Promise<RowResult> {
  const { quick } = env.ctx;
  const jobs = quick ? 10 : 50;
  const row = chaosEmptyRow('C2', `API, workers and provider SIGKILLed with ${jobs} jobs in flight`);
  const { svc, provider } = env;
  let backAfterMs: number | undefined;
  return chaosRow(
    env,
    row,
    { name: 'C2', specs: mixedWorkload(jobs), submitOverMs: 0, settleTimeoutMs: quick ? 90_000 : 300_000 },
    async (control) => {
      const waitUntil = control.now() + 8000;
      while (control.now() < waitUntil) {
        const ids = control.acceptedIds();
        const created = ids.length ? await svc.db.job.count({ where: { id: { in: ids }, providerPredictionId: { not: null } } }) : 0;
        if (ids.length === jobs && created >= jobs / 2) break;
        await sleep(100);
      }
      const victims = [svc.api, ...svc.workers, provider.proc];
      for (const p of victims) p.killNow();
      await Promise.all(victims.map((p) => p.waitExit(5000)));
      const at = control.now();
      await sleep(RESTART_AFTER_MS);
      svc.restartApi();
      svc.workers.forEach((_, i) => svc.restartWorker(i));
      await Promise.all([provider.restart(), apiAnswers(svc)]);
      backAfterMs = control.now() - at;
      control.incident(`SIGKILL of the API, ${svc.workers.length} workers and the provider`, at);
    },
    () => [
      `All were started again ${RESTART_AFTER_MS / 1000} s after the kill; the API and the provider answered ${backAfterMs === undefined ? '?' : Math.round(backAfterMs / 100) / 10} s after the kill (the workers started alongside).`,
      'Temporal and Postgres (the stack) stayed up in this row; the provider kept its predictions on disk and carried on with them after its restart.',
    ],
  );
}
