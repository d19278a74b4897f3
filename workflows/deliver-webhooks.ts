import { ActivityFailure, condition, defineSignal, patched, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { DatabaseActivities, WebhookActivities } from '../activities';
import { THROTTLED, type ResourceRef } from '../src/events/types';
import { taskQueues } from '../src/temporal/names';
import { databaseStep, webhookDelivery } from './activity-options';

/** Sent (with signalWithStart) by every activity that records an event of a resource with a webhook. */
export const newEventsSignal = defineSignal('newEvents');

/** At most one `output` or `progress` (logs) delivery per window; the latest state stands for the skipped ones. */
export const THROTTLE_MS = 500;


/**
 * Delivers one resource's events to its webhook, in order, one at a time: one workflow per
 * resource (`webhooks-<type>-<id>`), separate from the resource's own workflow, which never
 * waits for it. It reads undelivered events from the outbox whenever it is woken, so a wake-up
 * that carries nothing is enough, and a restart loses nothing. Each delivery is retried by its
 * activity's policy for a day; one that still fails is left (its attempts are recorded) and
 * the next event goes on. It ends once the resource is final and every event up to its
 * `completed` has been delivered, given up on, or left out by the filter. Deliveries run on the
 * webhooks task queue; their fairness key is the owner's (the start's priority, which activities
 * inherit), so one account's many deliveries take turns with everyone else's.
 *
 * Versioned by workflow type (README, "Changing workflow code"), so a new run records no patch
 * marker: the events are always read through the resource's `completed`.
 */
export function deliverWebhooksV2(ref: ResourceRef): Promise<void> {
  return deliverEvents(ref, { readsThroughCompleted: () => true, spacedFromDelivery: true });
}

/**
 * The delivery workflow's type before `deliverWebhooksV2`, kept until no run of it is left (a
 * delivery's retries last a day). Runs that took the `webhooks-end-when-final` patch run what
 * deliverWebhooksV2 does; older ones read only the events their filter lets through. A resource
 * whose run of this type is still going is woken by signal-with-start naming the new type: the
 * running workflow gets the signal, whatever its type (test/events/webhook-deliveries-v2.test.ts).
 */
export function deliverWebhooks(ref: ResourceRef): Promise<void> {
  return deliverEvents(ref, { readsThroughCompleted: () => patched('webhooks-end-when-final'), spacedFromDelivery: false });
}

/**
 * The delivery loop. `readsThroughCompleted` is asked on every wake-up, where the patch was.
 * `spacedFromDelivery`: the throttle window runs from when a throttled delivery ended, not from
 * when it was scheduled, so two deliveries reach the receiver at least THROTTLE_MS apart however
 * long each waited for a worker slot (the old type counts from the schedule; its runs keep that).
 */
async function deliverEvents(ref: ResourceRef, { readsThroughCompleted, spacedFromDelivery }: { readsThroughCompleted: () => boolean; spacedFromDelivery: boolean }): Promise<void> {
  const db = proxyActivities<DatabaseActivities>(databaseStep);
  const hooks = proxyActivities<WebhookActivities>(webhookDelivery(taskQueues(workflowInfo().taskQueue)));
  let woken = true;
  setHandler(newEventsSignal, () => {
    woken = true;
  });

  let after = '0';
  let lastThrottledAt = -Infinity;
  for (;;) {
    await condition(() => woken);
    woken = false;
    // Reads the resource's `completed` event even when the filter leaves it out (it is not
    // delivered then), so the workflow ends once the resource is final, whatever the filter.
    // Before this, a workflow whose filter lacked `completed` waited for ever.
    const throughCompleted = readsThroughCompleted();
    const events = await db.pendingWebhookEvents({ ...ref, after, ...(throughCompleted ? { throughCompleted } : {}) });
    for (let i = 0; i < events.length; i++) {
      const event = events[i]!;
      if (event.deliver === false) {
        // Left out by the filter: only read to know the resource is final.
        after = event.id;
        if (event.type === 'completed') return;
        continue;
      }
      if (THROTTLED.has(event.type)) {
        // A newer output or progress event right behind this one carries the same, newer state.
        if (events[i + 1] && THROTTLED.has(events[i + 1]!.type)) {
          after = event.id;
          continue;
        }
        const wait = lastThrottledAt + THROTTLE_MS - Date.now();
        if (wait > 0) {
          // Newer events may arrive meanwhile: read again after the pause, from this event on.
          await sleep(wait);
          woken = true;
          break;
        }
        lastThrottledAt = Date.now();
      }
      try {
        await hooks.deliverWebhook({ ...ref, eventId: event.id, type: event.type });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
      }
      if (spacedFromDelivery && THROTTLED.has(event.type)) lastThrottledAt = Date.now();
      after = event.id;
      if (event.type === 'completed') return;
    }
  }
}
