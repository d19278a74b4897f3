import type { Client } from '@temporalio/client';

/**
 * No-op activities of the floor workflows. floorCreate plays the provider: it returns at once
 * and, `signalDelayMs` later, signals the workflow the way our webhook handler does.
 */
export function createFloorActivities(temporal: Client) {
  return {
    async floorCreate(req: { workflowId: string; signalDelayMs: number }): Promise<void> {
      const send = () => void temporal.workflow.getHandle(req.workflowId).signal('floorPredictionDone').catch(() => undefined);
      if (req.signalDelayMs > 0) setTimeout(send, req.signalDelayMs);
      else setImmediate(send);
    },
    async floorNoop(): Promise<void> {},
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
