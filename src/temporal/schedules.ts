import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { reconcile } from '../../workflows/reconcile';
import type { expireOutputs } from '../../workflows/expire-outputs';
import { taskQueues } from './names';

/**
 * The reconciliation Schedule: one per task queue, created at worker start and updated if
 * its settings changed. Overlapping runs are skipped. Operators see, pause or trigger it in
 * the Temporal UI (Schedules).
 */
export async function ensureReconcileSchedule(client: Client, config: Config): Promise<string> {
  const scheduleId = `reconcile-${config.temporal.taskQueue}`;
  const options = {
    scheduleId,
    spec: { intervals: [{ every: config.reconcile.intervalMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'reconcile' as const,
      workflowId: `reconcile-${config.temporal.taskQueue}`,
      taskQueue: taskQueues(config.temporal.taskQueue).main,
      args: [{ graceMs: config.reconcile.graceMs, limit: config.reconcile.batchLimit }] as Parameters<typeof reconcile>,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: config.reconcile.intervalMs },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }));
  }
  return scheduleId;
}

/** Pages one expiry run deletes at most (OUTPUT_EXPIRY_PAGE_SIZE each); a longer backlog waits for the next run. */
const EXPIRY_PAGES_PER_RUN = 20;

/**
 * The output expiry Schedule (expire-outputs-<task queue>): every OUTPUT_EXPIRY_INTERVAL_MS the
 * expireOutputs workflow deletes expired job outputs from the bucket. Created or updated at
 * worker start like the reconciliation schedule; overlapping runs are skipped.
 */
export async function ensureOutputExpirySchedule(client: Client, config: Config): Promise<string> {
  const scheduleId = `expire-outputs-${config.temporal.taskQueue}`;
  const options = {
    scheduleId,
    spec: { intervals: [{ every: config.outputs.expiryIntervalMs }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: 'expireOutputs' as const,
      workflowId: scheduleId,
      taskQueue: taskQueues(config.temporal.taskQueue).main,
      args: [{ pageSize: config.outputs.expiryPageSize, maxPages: EXPIRY_PAGES_PER_RUN }] as Parameters<typeof expireOutputs>,
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: config.outputs.expiryIntervalMs },
  };
  try {
    await client.schedule.create(options);
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }));
  }
  return scheduleId;
}
