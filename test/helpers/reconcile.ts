import type { ReconcileReport } from '../../workflows/reconcile';
import { eventually } from './http';
import type { TestEnv } from './test-env';

/**
 * What an operator does in the Temporal UI: the reconcile schedule runs now. Returns the report
 * of the run this trigger started, found in the schedule's own list of actions (not by searching
 * visibility), and fails at once with the run's error if that run failed.
 *
 * A schedule names each run `<workflow id>-<the second it was started>`, and the server drops a
 * manual trigger whose run would take the id of a run of the same second that is still running
 * (WorkflowExecutionAlreadyStarted). So this waits until no run of the schedule is running before
 * it triggers: a trigger after a run that has closed may reuse its id, and always starts.
 */
export async function triggerReconciliation(env: TestEnv, scheduleId: string, timeoutMs = 30_000): Promise<ReconcileReport> {
  const schedule = env.temporal.schedule.getHandle(scheduleId);
  const idle = await eventually(async () => {
    const { info } = await schedule.describe();
    return info.runningActions.length === 0 ? info : undefined;
  }, timeoutMs, 100);
  const earlier = new Set(idle.recentActions.map((a) => a.action.workflow.firstExecutionRunId));
  await schedule.trigger();
  const started = await eventually(async () => {
    const { info } = await schedule.describe();
    return info.recentActions.find((a) => !earlier.has(a.action.workflow.firstExecutionRunId))?.action.workflow;
  }, timeoutMs, 100);
  return env.temporal.workflow.getHandle<() => Promise<ReconcileReport>>(started.workflowId, started.firstExecutionRunId).result();
}
