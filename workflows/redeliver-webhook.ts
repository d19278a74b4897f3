import { ActivityFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { WebhookActivities } from '../activities';
import type { EventType, ResourceRef } from '../src/events/types';
import { taskQueues } from '../src/temporal/names';
import { webhookRedelivery } from './activity-options';

export interface RedeliverInput extends ResourceRef {
  eventId: string;
  type: EventType;
}

/**
 * One more delivery of one event, asked for by its owner (POST /webhooks/deliveries/{id}/redeliver):
 * a single attempt through the same activity as every delivery (signed, the endpoint's breaker,
 * the same guard and timeouts), recorded in the deliveries list as a redelivery. Its id is
 * `webhook-redeliver-<event id>`: one redelivery of an event runs at a time. Separate from the
 * resource's deliverWebhooks workflow, which has usually ended, and whose history it leaves alone.
 */
export async function redeliverWebhook(input: RedeliverInput): Promise<{ status: number | null }> {
  const hooks = proxyActivities<WebhookActivities>(webhookRedelivery(taskQueues(workflowInfo().taskQueue)));
  try {
    const { status } = await hooks.deliverWebhook({ resourceType: input.resourceType, resourceId: input.resourceId, eventId: input.eventId, type: input.type, redelivery: true });
    return { status };
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return { status: null };
  }
}
