import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { addCounts, countHistory } from '../../tools/bench/history-count';

const HISTORIES = path.resolve(__dirname, '../histories');
const load = (file: string) => historyFromJSON(JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8')));

/**
 * The bench's count of Temporal Cloud actions (tools/bench/history-count.ts), against counts made by
 * hand from committed histories: the event ids below are the ones each expectation stands for.
 */
describe('counting Temporal actions in a history', () => {
  it('when a generation job succeeded with 2 outputs (2026-12-07b), then it bills 13 actions in 48 events and 7 workflow tasks', () => {
    const count = countHistory(load('2026-12-07b/generationJob-succeeded.json'));
    expect(count.byKind).toEqual({
      starts: 1, // event 1
      activities: 5, // 7 createPrediction, 14 markJobRunning, 32 and 33 copyOutput, 41 completeJob
      activityRetries: 0, // every ActivityTaskStarted (8, 25, 34, 37, 42) is attempt 1
      timers: 1, // 15 (the poll timer, canceled at 24: a canceled timer is still billed)
      signals: 2, // 16 and 20, predictionUpdated (starting, succeeded)
      updates: 0,
      searchAttributeUpserts: 2, // 13 and 47 set JobStatus
      markerTasks: 2, // the patch markers 5 (workflow task 4) and 30 (workflow task 29)
      childWorkflows: 0,
    });
    expect(count.exemptUpserts).toBe(2); // 6 and 31 set only TemporalChangeVersion
    expect(count.markers).toBe(2);
    expect(count.actions).toBe(13);
    expect(count.events).toBe(48);
    expect(count.workflowTasks).toBe(7); // WorkflowTaskStarted 3, 11, 18, 22, 28, 39, 45
  });

  it('when a webhook delivery was started by signal-with-start and retried once (2026-12-07b), then the start signal is not billed again and the retry is', () => {
    const count = countHistory(load('2026-12-07b/deliverWebhooks-retried.json'));
    expect(count.byKind).toEqual({
      starts: 1, // event 1
      activities: 5, // 8 and 24 pendingWebhookEvents; 14, 30 and 36 deliverWebhook
      activityRetries: 1, // 19: the deliverWebhook of 14 started at attempt 2
      timers: 0,
      signals: 1, // 15 (2 came with the start: signal-with-start, billed as the start)
      updates: 0,
      searchAttributeUpserts: 0,
      markerTasks: 1, // the patch marker 6 (workflow task 5)
      childWorkflows: 0,
    });
    expect(count.exemptUpserts).toBe(1); // 7
    expect(count.actions).toBe(9);
    expect(count.events).toBe(42);
    expect(count.workflowTasks).toBe(7);
  });

  it('when several histories are added, then every figure is their sum', () => {
    const job = countHistory(load('2026-12-07b/generationJob-succeeded.json'));
    const hooks = countHistory(load('2026-12-07b/deliverWebhooks-retried.json'));
    const sum = addCounts([job, hooks]);
    expect({ actions: sum.actions, events: sum.events, workflowTasks: sum.workflowTasks, signals: sum.byKind.signals }).toEqual({ actions: 22, events: 90, workflowTasks: 14, signals: 3 });
  });

  it('when a history is empty, then it counts nothing', () => {
    expect(countHistory({ events: [] })).toMatchObject({ actions: 0, events: 0, workflowTasks: 0 });
  });
});
