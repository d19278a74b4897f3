import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { Prisma } from '../generated/prisma/client';
import type { Tx } from '../db/transaction';
import { webhookWorkflowId, type EventType, type ResourceRef, type ResourceType } from './types';

const TABLE: Record<ResourceType, Prisma.Sql> = {
  job: Prisma.raw('"jobs"'),
  prompt: Prisma.raw('"prompts"'),
  version: Prisma.raw('"model_versions"'),
};

/**
 * Appends one event of a resource, in the caller's transaction (the outbox): it commits or
 * rolls back with the state change it describes. The owner is copied from the resource row.
 */
export async function recordEvent(tx: Tx, ref: ResourceRef, type: EventType, data: Record<string, unknown> = {}): Promise<void> {
  await tx.$executeRaw`
    INSERT INTO "resource_events" ("resource_type", "resource_id", "user_id", "type", "data")
    SELECT ${ref.resourceType}, "id", "user_id", ${type}, ${JSON.stringify(data)}::jsonb
    FROM ${TABLE[ref.resourceType]} WHERE "id" = ${ref.resourceId}::uuid`;
}

/** Whether a resource has a webhook (an activity retried after its change committed still wakes the delivery). */
export async function hasWebhook(tx: Tx, ref: ResourceRef): Promise<boolean> {
  const rows = await tx.$queryRaw<Array<{ has_webhook: boolean }>>`
    SELECT ("webhook" IS NOT NULL) AS has_webhook FROM ${TABLE[ref.resourceType]} WHERE "id" = ${ref.resourceId}::uuid`;
  return rows[0]?.has_webhook ?? false;
}

/**
 * Wakes (or starts) the resource's webhook delivery workflow, which reads the events it has
 * not delivered yet from the table. A delivery workflow that already finished (it delivered
 * `completed`) is not started again: nothing is ever delivered twice by a new run.
 */
export async function wakeWebhookDelivery(temporal: Client, taskQueue: string, ref: ResourceRef): Promise<void> {
  try {
    await temporal.workflow.signalWithStart('deliverWebhooks', {
      workflowId: webhookWorkflowId(ref),
      taskQueue,
      args: [ref],
      signal: 'newEvents',
      signalArgs: [],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}
