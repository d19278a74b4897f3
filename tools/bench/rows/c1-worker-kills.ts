/**
 * C1: a worker SIGKILLed at random moments while mixed jobs run, with two workers on the task
 * queue; each killed worker is started again about 1 s later, as an orchestrator would (full:
 * 100 jobs, 5 kills; quick: 20 jobs, 2 kills). The kills are spread over the submissions plus a
 * few seconds, at random moments at least 2.5 s apart, each on a random worker that is running.
 */
import type { RowResult } from '../report';
import { sleep } from '../stats';
import { chaosEmptyRow, chaosRow, mixedWorkload, type ChaosEnv } from './chaos';

const RESTART_AFTER_MS = 1000;
const MIN_GAP_MS = 2500;

export async function c1WorkerKills(env: ChaosEnv): Promise<RowResult> {
  const { quick } = env.ctx;
  const jobs = quick ? 20 : 100;
  const kills = quick ? 2 : 5;
  const submitOverMs = quick ? 10_000 : 40_000;
  const row = chaosEmptyRow('C1', `worker SIGKILLed ${kills}× during ${jobs} mixed jobs (2 workers)`);
  const killAt = killMoments(kills, 1000, submitOverMs + 3000);
  const restarts: Promise<void>[] = [];
  return chaosRow(
    env,
    row,
    { name: 'C1', specs: mixedWorkload(jobs), submitOverMs, settleTimeoutMs: quick ? 90_000 : 300_000 },
    async (control) => {
      for (const at of killAt) {
        await sleep(at - control.now());
        const running = env.svc.workers.map((w, i) => ({ w, i })).filter(({ w }) => !w.exited);
        const victim = running[Math.floor(Math.random() * running.length)];
        if (!victim) continue;
        victim.w.killNow();
        control.incident(`SIGKILL worker ${victim.i + 1} (pid ${victim.w.pid})`, control.now());
        restarts.push(
          (async () => {
            await victim.w.waitExit(5000);
            await sleep(RESTART_AFTER_MS);
            env.svc.restartWorker(victim.i);
          })(),
        );
      }
      await Promise.all(restarts);
    },
    () => [`Each killed worker was started again ${RESTART_AFTER_MS / 1000} s after it died; the other worker kept running unless it was the next one killed.`],
  );
}

/** `n` random moments in [from, to] ms, one per equal slot, at least MIN_GAP_MS apart. */
function killMoments(n: number, from: number, to: number): number[] {
  const slot = (to - from) / n;
  return Array.from({ length: n }, (_, k) => from + k * slot + Math.random() * Math.max(0, slot - MIN_GAP_MS));
}
