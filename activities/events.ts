import { activityInfo } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { Db } from '../src/db/client';
import type { Tx } from '../src/db/transaction';
import { recordEvent, wakeWebhookDelivery, wakesDelivery, webhookTarget } from '../src/events/record';
import { FILTER_OF, type EventType, type ResourceRef } from '../src/events/types';
import { mainQueueOf } from '../src/temporal/names';
import { resourceHead } from '../src/webhooks-out/resource';

export type Emit = (type: EventType, data?: Record<string, unknown>) => Promise<void>;
/** Names another resource whose events the change recorded (a batch its job completed): its webhook is woken too. */
export type AlsoWake = (ref: ResourceRef) => void;
export type EventDeps = { db: Db; temporalClient: () => Promise<Client> };

/**
 * Runs a state change in one transaction with an `emit` that appends the resource's events
 * to the outbox in that same transaction. After the commit, a resource with a webhook has its
 * delivery workflow woken when the change recorded something it delivers (wakesDelivery); a
 * retried activity whose change had already committed wakes it again, so a lost wake-up never
 * strands an event.
 */
export function changeWithEvents({ db, temporalClient }: EventDeps) {
  return async function change<T>(ref: ResourceRef, fn: (tx: Tx, emit: Emit, alsoWake: AlsoWake) => Promise<T>): Promise<T> {
    const { result, wake } = await db.$transaction(async (tx) => {
      const others: ResourceRef[] = [];
      const recorded: EventType[] = [];
      const emit: Emit = (type, data) => (recorded.push(type), recordEvent(tx, ref, type, data));
      const result = await fn(tx, emit, (other) => others.push(other));
      const wake: Array<{ ref: ResourceRef; owner: string }> = [];
      const target = await webhookTarget(tx, ref);
      if (target && wakesDelivery(target.filter, recorded)) wake.push({ ref, owner: target.owner });
      // Another resource the change completed (a batch) recorded its own events: always woken.
      for (const r of others) {
        const other = await webhookTarget(tx, r);
        if (other) wake.push({ ref: r, owner: other.owner });
      }
      return { result, wake };
    });
    // The delivery workflow runs on the main queue, whichever queue this activity runs on (a create records its run).
    for (const w of wake) await wakeWebhookDelivery(await temporalClient(), mainQueueOf(activityInfo().taskQueue), w.ref, w.owner);
    return result;
  };
}

export interface PendingEvent {
  /** The event id (bigint as a decimal string). */
  id: string;
  type: EventType;
  /** false: the events filter leaves it out (only a `completed` read with throughCompleted). */
  deliver?: false;
}

/** Reading the outbox for webhook delivery (database group). */
export function createEventActivities({ db }: { db: Db }) {
  return {
    /**
     * The resource's events after `after` that its webhook filter lets through, oldest first
     * (empty when the resource has no webhook or is gone). With `throughCompleted`, the
     * `completed` event comes too when the filter leaves it out, marked `deliver: false`: the
     * delivery workflow ends on it.
     */
    async pendingWebhookEvents(req: ResourceRef & { after: string; throughCompleted?: boolean }): Promise<PendingEvent[]> {
      const head = await resourceHead(db, req);
      if (!head?.webhook) return [];
      const wanted = new Set(head.webhookEventsFilter);
      const rows = await db.resourceEvent.findMany({
        where: { resourceType: req.resourceType, resourceId: req.resourceId, id: { gt: BigInt(req.after) } },
        orderBy: { id: 'asc' },
        select: { id: true, type: true },
        take: 200,
      });
      const events: PendingEvent[] = [];
      for (const r of rows) {
        const event = { id: r.id.toString(), type: r.type as EventType };
        if (wanted.size === 0 || wanted.has(FILTER_OF[event.type])) events.push(event);
        else if (req.throughCompleted && event.type === 'completed') events.push({ ...event, deliver: false });
      }
      return events;
    },
  };
}
