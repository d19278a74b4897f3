import { randomUUID } from 'node:crypto';
import { wakeWebhookDelivery } from '../../src/events/record';
import { webhookWorkflowId, type ResourceRef } from '../../src/events/types';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * A deploy meets a running delivery workflow of the type before deliverWebhooksV2: the new code
 * wakes it by signal-with-start naming the new type, and the running run of the old type gets the
 * signal (no second run, no error), so its webhook goes on being delivered until it ends.
 */
let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv();
  user = await env.createUser();
}, 120_000);
afterAll(() => env?.stop());

describe('when a delivery workflow of the old type is running', () => {
  it('then waking its resource signals that run, whatever the type named, and starts no other', async () => {
    // A resource with no webhook row: the old run finds nothing to deliver and waits for a wake-up.
    const ref: ResourceRef = { resourceType: 'job', resourceId: randomUUID() };
    const workflowId = webhookWorkflowId(ref);
    const old = await env.temporal.workflow.start('deliverWebhooks', { workflowId, taskQueue: env.config.temporal.taskQueue, args: [ref] });
    try {
      const signals = async () =>
        (await old.fetchHistory()).events?.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'newEvents').length ?? 0;
      // The old run has taken its first workflow task (read the outbox, found nothing) before the wake-up.
      await eventually(async () => ((await old.fetchHistory()).events?.some((e) => e.activityTaskCompletedEventAttributes) ? true : undefined), 30_000, 100);

      await wakeWebhookDelivery(env.temporal, env.config.temporal.taskQueue, ref, user.id);
      // A signal that arrives while a workflow task runs is written to the history when the task completes.
      await eventually(async () => ((await signals()) === 1 ? true : undefined), 10_000, 50);
      const described = await env.temporal.workflow.getHandle(workflowId).describe();
      expect({ type: described.type, runId: described.runId, status: described.status.name }).toEqual({ type: 'deliverWebhooks', runId: old.firstExecutionRunId, status: 'RUNNING' });
    } finally {
      await old.terminate('test over');
    }
  }, 60_000);

  it('then a resource with no delivery workflow gets one of the new type', async () => {
    const ref: ResourceRef = { resourceType: 'job', resourceId: randomUUID() };
    await wakeWebhookDelivery(env.temporal, env.config.temporal.taskQueue, ref, user.id);
    const handle = env.temporal.workflow.getHandle(webhookWorkflowId(ref));
    try {
      expect((await handle.describe()).type).toBe('deliverWebhooksV2');
    } finally {
      await handle.terminate('test over').catch(() => undefined);
    }
  }, 60_000);
});
