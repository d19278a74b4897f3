import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Db } from '../src/db/client';
import type { Tx } from '../src/db/transaction';
import { hasWebhook, recordEvent, wakeWebhookDelivery } from '../src/events/record';
import { FILTER_OF, type EventType, type ResourceRef } from '../src/events/types';
import { resourceHead } from '../src/webhooks-out/resource';

export type Emit = (type: EventType, data?: Record<string, unknown>) => Promise<void>;
export type EventDeps = { db: Db; temporalClient: () => Promise<Client> };

/**
 * Runs a state change in one transaction with an `emit` that appends the resource's events
 * to the outbox in that same transaction. After the commit, a resource with a webhook has its
 * delivery workflow woken; a retried activity whose change had already committed wakes it
 * again, so a lost wake-up never strands an event.
 */
export function changeWithEvents({ db, temporalClient }: EventDeps) {
  return async function change<T>(ref: ResourceRef, fn: (tx: Tx, emit: Emit) => Promise<T>): Promise<T> {
    const { result, webhook } = await db.$transaction(async (tx) => {
      const result = await fn(tx, (type, data) => recordEvent(tx, ref, type, data));
      return { result, webhook: await hasWebhook(tx, ref) };
    });
    if (webhook) await wakeWebhookDelivery(await temporalClient(), activityInfo().taskQueue, ref);
    return result;
  };
}

export interface PendingEvent {
  /** The event id (bigint as a decimal string). */
  id: string;
  type: EventType;
}

/** Reading the outbox for webhook delivery (database group). */
export function createEventActivities({ db }: { db: Db }) {
  return {
    /**
     * The resource's events after `after` that its webhook filter lets through, oldest first
     * (empty when the resource has no webhook or is gone).
     */
    async pendingWebhookEvents(req: ResourceRef & { after: string }): Promise<PendingEvent[]> {
      const head = await resourceHead(db, req);
      if (!head?.webhook) return [];
      const wanted = new Set(head.webhookEventsFilter);
      const rows = await db.resourceEvent.findMany({
        where: { resourceType: req.resourceType, resourceId: req.resourceId, id: { gt: BigInt(req.after) } },
        orderBy: { id: 'asc' },
        select: { id: true, type: true },
        take: 200,
      });
      return rows
        .map((r) => ({ id: r.id.toString(), type: r.type as EventType }))
        .filter((e) => wanted.size === 0 || wanted.has(FILTER_OF[e.type]));
    },
  };
}
