import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { reconcile } from '../../workflows/reconcile';
import type { expireOutputs } from '../../workflows/expire-outputs';
import { taskQueues } from './names';

/**
 * A schedule that starts `workflowType` on the main task queue every `everyMs`, skipping a run
 * while the previous one still runs (and catching up at most one interval after an outage).
 * Created at worker start, or updated to these settings if it exists: the last worker to start
 * sets them. Operators see, pause or trigger it in the Temporal UI (Schedules).
 */
async function ensureSchedule(client: Client, config: Config, s: { scheduleId: string; workflowType: string; everyMs: number; args: unknown[] }): Promise<string> {
  const options = {
    scheduleId: s.scheduleId,
    spec: { intervals: [{ every: s.everyMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: s.workflowType,
      workflowId: s.scheduleId,
      taskQueue: taskQueues(config.temporal.taskQueue).main,
      args: s.args,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.everyMs },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(s.scheduleId).update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }));
  }
  return s.scheduleId;
}

/** The reconciliation Schedule (reconcile-<task queue>), every RECONCILE_INTERVAL_MS. */
export function ensureReconcileSchedule(client: Client, config: Config): Promise<string> {
  const args: Parameters<typeof reconcile> = [{ graceMs: config.reconcile.graceMs, limit: config.reconcile.batchLimit }];
  return ensureSchedule(client, config, { scheduleId: `reconcile-${config.temporal.taskQueue}`, workflowType: 'reconcile', everyMs: config.reconcile.intervalMs, args });
}

/** Pages one expiry run deletes at most (OUTPUT_EXPIRY_PAGE_SIZE each); a longer backlog waits for the next run. */
const EXPIRY_PAGES_PER_RUN = 20;

/**
 * The output expiry Schedule (expire-outputs-<task queue>): every OUTPUT_EXPIRY_INTERVAL_MS the
 * expireOutputs workflow deletes expired job outputs from the bucket.
 */
export function ensureOutputExpirySchedule(client: Client, config: Config): Promise<string> {
  const args: Parameters<typeof expireOutputs> = [{ pageSize: config.outputs.expiryPageSize, maxPages: EXPIRY_PAGES_PER_RUN }];
  return ensureSchedule(client, config, { scheduleId: `expire-outputs-${config.temporal.taskQueue}`, workflowType: 'expireOutputs', everyMs: config.outputs.expiryIntervalMs, args });
}
