import type { ReconcileReport } from '../../workflows/reconcile';
import { eventually } from './http';
import type { TestEnv } from './test-env';

/**
 * What an operator does in the Temporal UI: the reconcile schedule runs now. Returns the report
 * of the run this trigger started: the first completed reconcile run of this task queue that was
 * not there before the trigger. (Not "StartTime > <the test's clock>": a run that completed in
 * under a second once went unmatched that way, and the test waited out its minute.)
 */
export async function triggerReconciliation(env: TestEnv, scheduleId: string, timeoutMs = 30_000): Promise<ReconcileReport> {
  const query = `WorkflowType = "reconcile" AND TaskQueue = "${env.config.temporal.taskQueue}"`;
  const earlier = new Set<string>();
  for await (const wf of env.temporal.workflow.list({ query })) earlier.add(wf.runId);
  await env.temporal.schedule.getHandle(scheduleId).trigger();
  return eventually(async () => {
    for await (const wf of env.temporal.workflow.list({ query })) {
      if (!earlier.has(wf.runId) && wf.status.name === 'COMPLETED') return env.temporal.workflow.getHandle(wf.workflowId, wf.runId).result();
    }
    return undefined;
  }, timeoutMs, 100);
}
