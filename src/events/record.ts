import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { Prisma } from '../generated/prisma/client';
import type { Tx } from '../db/transaction';
import { RESOURCE_EVENTS_CHANNEL } from './fanout';
import { FILTER_OF, webhookWorkflowId, type EventType, type ResourceRef, type ResourceType } from './types';

const TABLE: Record<ResourceType, Prisma.Sql> = {
  job: Prisma.raw('"jobs"'),
  prompt: Prisma.raw('"prompts"'),
  version: Prisma.raw('"model_versions"'),
  batch: Prisma.raw('"batches"'),
};

/**
 * Appends one event of a resource, in the caller's transaction (the outbox): it commits or
 * rolls back with the state change it describes. The owner is copied from the resource row.
 * The same statement notifies RESOURCE_EVENTS_CHANNEL (`<type>:<id>:<event id>:<event type>`,
 * see parseNotification): Postgres delivers it to every API process's listener when the
 * transaction commits, and drops it on a rollback.
 */
export async function recordEvent(tx: Tx, ref: ResourceRef, type: EventType, data: Record<string, unknown> = {}): Promise<void> {
  await tx.$executeRaw`
    WITH "inserted" AS (
      INSERT INTO "resource_events" ("resource_type", "resource_id", "user_id", "type", "data")
      SELECT ${ref.resourceType}, "id", "user_id", ${type}, ${JSON.stringify(data)}::jsonb
      FROM ${TABLE[ref.resourceType]} WHERE "id" = ${ref.resourceId}::uuid
      RETURNING "id", "resource_type", "resource_id", "type"
    )
    SELECT pg_notify(${RESOURCE_EVENTS_CHANNEL}, "resource_type" || ':' || "resource_id" || ':' || "id" || ':' || "type") FROM "inserted"`;
}

/** The owner and events filter of a resource that has a webhook, null without one. */
export async function webhookTarget(tx: Tx, ref: ResourceRef): Promise<{ owner: string; filter: string[] } | null> {
  const rows = await tx.$queryRaw<Array<{ user_id: string; webhook_events_filter: string[] }>>`
    SELECT "user_id", "webhook_events_filter" FROM ${TABLE[ref.resourceType]} WHERE "id" = ${ref.resourceId}::uuid AND "webhook" IS NOT NULL`;
  return rows[0] ? { owner: rows[0].user_id, filter: rows[0].webhook_events_filter } : null;
}

/**
 * Whether a change that recorded these events must wake the resource's webhook delivery: when
 * one of them passes the events filter (empty: all do), or is `completed` (the delivery workflow
 * ends on it). A change that recorded nothing wakes it too: it is a retried activity whose change
 * had committed before, and that first wake-up may have been lost. Any other wake-up would find
 * nothing to deliver, and each costs a signal-with-start.
 */
export function wakesDelivery(filter: readonly string[], recorded: readonly EventType[]): boolean {
  if (recorded.length === 0 || filter.length === 0) return true;
  return recorded.some((type) => type === 'completed' || filter.includes(FILTER_OF[type]));
}

/**
 * Wakes (or starts) the resource's webhook delivery workflow, which reads the events it has
 * not delivered yet from the table. A delivery workflow that already finished (it delivered
 * `completed`) is not started again: nothing is ever delivered twice by a new run. The owner
 * is the fairness key of the workflow and of its deliveries (activities inherit it): one
 * account's many deliveries take turns with other accounts' on the webhooks task queue.
 */
export async function wakeWebhookDelivery(temporal: Client, taskQueue: string, ref: ResourceRef, userId: string): Promise<void> {
  try {
    await temporal.workflow.signalWithStart('deliverWebhooksV2', {
      workflowId: webhookWorkflowId(ref),
      taskQueue,
      args: [ref],
      signal: 'newEvents',
      signalArgs: [],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      priority: { fairnessKey: userId },
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return;
    throw err;
  }
}
