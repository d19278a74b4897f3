import { CancellationScope, sleep } from '@temporalio/workflow';

/** A job's or prompt's deadline, as its workflow races its work against it. */
export interface Deadline {
  /** The scope the work runs in; the deadline cancels it. */
  scope: CancellationScope;
  /** The deadline canceled the work. */
  expired: boolean;
  /** The provider's run finished: what is left (storing and charging its outputs) is not canceled any more. */
  providerDone: boolean;
}

/**
 * Work with a deadline (epoch ms) races against a timer: if the timer wins while the provider's
 * run is not finished, it cancels the scope, and the workflow ends the work canceled (aborted if
 * its run never started) with what it reserved released. Versioned: `patched` is the workflow's
 * own call of patched() with its id (job-deadline, prompt-deadline; written out there so the
 * replay test finds the id), asked only when there is a deadline, so work without one runs the commands
 * it always did.
 */
export function deadlineOf(deadlineMs: number | undefined, patched: () => boolean): Deadline {
  const deadline: Deadline = { scope: new CancellationScope(), expired: false, providerDone: false };
  if (deadlineMs === undefined || !patched()) return deadline;
  // A canceled workflow (DELETE) cancels the timer too: nothing to do then.
  void sleep(Math.max(1, deadlineMs - Date.now()))
    .then(() => {
      if (deadline.providerDone) return;
      deadline.expired = true;
      deadline.scope.cancel();
    })
    .catch(() => undefined);
  return deadline;
}
