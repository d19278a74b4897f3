import type { Client } from '@temporalio/client';

/**
 * No-op activities of the floor workflows. The worker's createWorkers registers only the real
 * activity names, each on its own task queue, and lets overrides replace them; so the floor's two
 * activities take the names of one real activity of each queue they stand for: createPrediction
 * (the rate-limited create queue) plays the provider: it returns at once and, `signalDelayMs`
 * later, signals the workflow the way our webhook handler does; markJobRunning (the main queue)
 * does nothing.
 */
export function createFloorActivities(temporal: Client) {
  return {
    async createPrediction(req: { workflowId: string; signalDelayMs: number }): Promise<void> {
      const send = () => void temporal.workflow.getHandle(req.workflowId).signal('floorPredictionDone').catch(() => undefined);
      if (req.signalDelayMs > 0) setTimeout(send, req.signalDelayMs);
      else setImmediate(send);
    },
    async markJobRunning(): Promise<void> {},
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
