import { createActivityGroups, DRAINING_ON_MAIN, QUEUE_GROUPS, type ActivityDeps } from '../../activities';
import { mainQueueOf, taskQueues } from '../../src/temporal/names';

/** The factories only close over their dependencies, so names and groups can be read without any. */
const groups = createActivityGroups({} as ActivityDeps);

describe('when the workers register activities', () => {
  it('then every activity belongs to exactly one group, and every group to exactly one task queue', () => {
    const names = Object.values(groups).flatMap((g) => Object.keys(g));
    expect(new Set(names).size).toBe(names.length);
    const queued = Object.values(QUEUE_GROUPS).flat();
    expect([...queued].sort()).toEqual(Object.keys(groups).sort());
  });

  it('then the rate-limited provider queues get the Replicate calls and nothing else', () => {
    expect(Object.keys(groups.providerCreate).sort()).toEqual(['createPrediction', 'createTraining']);
    expect(Object.keys(groups.providerCalls).sort()).toEqual(['cancelPrediction', 'cancelStrayRun', 'cancelTraining', 'ensureDestinationModel', 'getPrediction', 'getTraining']);
    const main = QUEUE_GROUPS.main.flatMap((g) => Object.keys(groups[g]));
    expect(main.filter((n) => /Prediction|Training$|StrayRun|DestinationModel/.test(n) && !/^(complete|finish)/.test(n))).toEqual([]);
  });

  it('then webhook deliveries run on their own queue (own worker slots) and nowhere else, but for retries from before the move', () => {
    expect(QUEUE_GROUPS.webhooks).toEqual(['webhooks']);
    expect(Object.keys(groups.webhooks)).toEqual(['deliverWebhook']);
    const elsewhere = Object.entries(QUEUE_GROUPS).filter(([queue]) => queue !== 'webhooks').flatMap(([, g]) => g.flatMap((name) => Object.keys(groups[name])));
    expect(elsewhere).not.toContain('deliverWebhook');
    // The main worker drains retries scheduled there before the move; a rate-limited provider group never drains there.
    expect(DRAINING_ON_MAIN).toContain('webhooks');
    expect(DRAINING_ON_MAIN.filter((g) => (QUEUE_GROUPS.providerCreate as readonly string[]).includes(g) || (QUEUE_GROUPS.providerCalls as readonly string[]).includes(g))).toEqual([]);
  });

  it('then an activity on any queue finds the main queue, where the workflows it starts (webhook deliveries) run', () => {
    const queues = taskQueues('imagegen-webhooks-eu');
    for (const queue of Object.values(queues)) expect(mainQueueOf(queue)).toBe('imagegen-webhooks-eu');
  });
});
