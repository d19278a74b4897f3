/**
 * Resource events: what SSE streams send and what outbound webhooks are made of. Pure data,
 * so workflows import it too.
 *
 *   type        data                          webhook filter
 *   status      { status }                    start
 *   progress    { progress }   (training)     logs
 *   output      { index }      (each stored)  output
 *   completed   { status, error }             completed
 *
 * A batch (POST /batches) has one event: `completed` { status, counts } when every item is final.
 */
export const RESOURCE_TYPES = ['job', 'prompt', 'version', 'batch'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const EVENT_TYPES = ['status', 'progress', 'output', 'completed'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Replicate's webhook_events_filter values. */
export const WEBHOOK_FILTERS = ['start', 'output', 'logs', 'completed'] as const;
export type WebhookFilter = (typeof WEBHOOK_FILTERS)[number];

export const FILTER_OF: Record<EventType, WebhookFilter> = { status: 'start', progress: 'logs', output: 'output', completed: 'completed' };

/** Event types delivered at most once per throttle window, the latest state standing for the ones skipped. */
export const THROTTLED: ReadonlySet<EventType> = new Set(['progress', 'output']);

export interface ResourceRef {
  resourceType: ResourceType;
  resourceId: string;
}

/** The id of a resource's webhook delivery workflow. */
export const webhookWorkflowId = (ref: ResourceRef) => `webhooks-${ref.resourceType}-${ref.resourceId}`;
