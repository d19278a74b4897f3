/**
 * Floor workflows for `npm run bench` (bundled separately from workflows/): the same Temporal
 * shape as the real workflows with every activity a no-op, so the difference between a real
 * job and its floor is what our own code (HTTP, Postgres, S3, the provider) adds.
 *
 * floorGenerationJob mirrors workflows/generation-job.ts (its lean path, runAndStore in
 * workflows/prediction-run.ts): create (on the rate-limited create queue; the real one also
 * records the job) → wait for one signal (the provider's webhook; here the create activity sends
 * it) on a poll timer → store the outputs and complete (main queue). Two activity hops, one
 * timer and one signal, no search-attribute upserts. The no-op activities carry the names of
 * real activities of their queues (tools/bench/floor-activities.ts says why).
 */
import { condition, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { FloorActivities } from './floor-activities';

export const floorPredictionDone = defineSignal('floorPredictionDone');

export interface FloorJobInput {
  /** How long after "create" the signal arrives (the model latency of the row being compared). */
  signalDelayMs: number;
}

/** JOB_POLL_INTERVAL_MS's default: the real job's wait starts a timer this long. */
const POLL_INTERVAL = '10 seconds';

// The same timeouts as workflows/activity-options.ts; retries never happen on no-ops.
const mainQueue = { startToCloseTimeout: '30 seconds', scheduleToCloseTimeout: '10 minutes' } as const;

export async function floorGenerationJob(input: FloorJobInput): Promise<void> {
  const base = workflowInfo().taskQueue;
  const create = proxyActivities<FloorActivities>({
    taskQueue: `${base}-replicate-create`,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '30 minutes',
  });
  const db = proxyActivities<FloorActivities>(mainQueue);
  let done = false;
  setHandler(floorPredictionDone, () => {
    done = true;
  });

  await create.createPrediction({ workflowId: workflowInfo().workflowId, signalDelayMs: input.signalDelayMs });
  // The real wait's poll timer (JOB_POLL_INTERVAL_MS); the signal always comes first here.
  while (!(await condition(() => done, POLL_INTERVAL))) {
    // no poll: the floor's provider never loses its webhook
  }
  await db.markJobRunning(); // store the outputs and record completion
}
