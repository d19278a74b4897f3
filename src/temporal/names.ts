/**
 * Task queues and workflow ids. Pure: workflows import this too.
 *
 * Provider calls get their own task queues so that Temporal's task-queue activity rate
 * limit (maxTaskQueueActivitiesPerSecond) keeps all workers together under Replicate's
 * account limits: ~600 prediction/training creations per minute, ~3000 other calls.
 */
export function taskQueues(base: string) {
  return {
    /** Workflows, database and storage activities. */
    main: base,
    /** Prediction and training creation (Replicate: ~600/min). */
    providerCreate: `${base}-replicate-create`,
    /** Every other Replicate API call: get, cancel, models (Replicate: ~3000/min). */
    providerCalls: `${base}-replicate-calls`,
    /**
     * Outbound webhook deliveries, with their own small pool of worker slots: a receiver that
     * is slow or silent holds only these, never a slot that jobs need.
     */
    webhooks: `${base}-webhooks`,
  };
}
export type TaskQueues = ReturnType<typeof taskQueues>;

const SIDE_QUEUE_SUFFIXES = ['-replicate-create', '-replicate-calls', '-webhooks'];

/** The main task queue of any of taskQueues' queues (an activity on a provider queue starts workflows on the main one). */
export function mainQueueOf(queue: string): string {
  const suffix = SIDE_QUEUE_SUFFIXES.find((s) => queue.endsWith(s));
  return suffix ? queue.slice(0, -suffix.length) : queue;
}

/** The business id is the workflow id: one workflow per job, ever. */
export const workflowIds = {
  generationJob: (jobId: string) => `job-${jobId}`,
  /** A payment trains once: a second start is refused while one runs or after one succeeded. */
  trainModel: (paymentId: string) => `train-${paymentId}`,
  /** A model runs one prompt at a time. */
  generatePrompt: (versionId: string) => `prompt-${versionId}`,
};
