/** SupervisedService (tools/dev/processes.ts) keeping real child processes running, with a fast policy. */
import { spawn } from 'node:child_process';
import { SupervisedService, restartDelayMs, SERVICE_RESTART_POLICY, type RestartPolicy } from '../../tools/dev/processes';

/** Fast delays; a run counts as healthy only after a minute (a loaded machine starts node slowly). */
const FAST: RestartPolicy = { initialDelayMs: 100, maxDelayMs: 400, resetAfterMs: 60_000 };

/** A service whose every run lives `runMs`, then exits with code 3; its log lines and pids are collected. */
function crashingService(runMs: number, policy = FAST) {
  const lines: string[] = [];
  const pids: (number | undefined)[] = [];
  const service = new SupervisedService({
    name: 'svc',
    spawn: () => spawn(process.execPath, ['-e', `setTimeout(() => process.exit(3), ${runMs})`], { stdio: 'ignore' }),
    log: (line) => lines.push(line),
    onPid: (pid) => pids.push(pid),
    policy,
  });
  return { service, lines, pids, restarts: () => lines.filter((l) => l.includes('restarting')) };
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('service supervision', () => {
  test('when runs keep crashing at once, then each restart waits twice as long, up to the cap', async () => {
    const { service, restarts } = crashingService(0);
    service.start();
    try {
      await until(() => restarts().length >= 4);
    } finally {
      await service.stop(2000);
    }
    expect(restarts().slice(0, 4)).toEqual([
      'svc exited (code 3); restarting in 0.1 s (restart #1)',
      'svc exited (code 3); restarting in 0.2 s (restart #2)',
      'svc exited (code 3); restarting in 0.4 s (restart #3)',
      'svc exited (code 3); restarting in 0.4 s (restart #4)',
    ]);
  });

  test('when each run stayed up past the reset time, then every restart waits the initial delay again', async () => {
    const policy = { ...FAST, resetAfterMs: 300 };
    const { service, restarts } = crashingService(policy.resetAfterMs + 100, policy);
    service.start();
    try {
      await until(() => restarts().length >= 3);
    } finally {
      await service.stop(2000);
    }
    expect(restarts().slice(0, 3).map((l) => l.replace(/.*restarting in /, ''))).toEqual([
      '0.1 s (restart #1)',
      '0.1 s (restart #2)',
      '0.1 s (restart #3)',
    ]);
  });

  test('when the service is stopped, then its process ends and nothing starts again', async () => {
    const { service, lines, pids } = crashingService(60_000);
    service.start();
    const pid = pids[0]!;
    await service.stop(2000);
    expect(() => process.kill(pid, 0)).toThrow();
    await new Promise((r) => setTimeout(r, FAST.maxDelayMs + 200));
    expect(lines).toEqual([`svc running (pid ${pid})`]);
    expect(pids).toEqual([pid, undefined]);
  });

  test('when npm start restarts a service again and again, then it waits 0.5 s doubling to 15 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map((n) => restartDelayMs(n, SERVICE_RESTART_POLICY))).toEqual([
      500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000,
    ]);
  });
});
