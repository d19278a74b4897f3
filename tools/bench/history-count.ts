/**
 * Temporal actions as Temporal Cloud bills them, counted from a workflow's event history (the
 * rules of docs.temporal.io/cloud/actions that a history shows):
 *   - 1 per workflow started (each run: a client start, a signal-with-start, a continue-as-new);
 *   - 1 per ActivityTaskScheduled, plus 1 per retry (an ActivityTaskStarted's attempt − 1);
 *   - 1 per TimerStarted;
 *   - 1 per WorkflowExecutionSignaled (the signals sent to it), except the one written with the
 *     start by a signal-with-start, which is billed once, as the start;
 *   - 1 per accepted workflow update (WorkflowExecutionUpdateAccepted);
 *   - 1 per UpsertWorkflowSearchAttributes, except one that only sets `TemporalChangeVersion`
 *     (the SDK's own record of a patch, exempt);
 *   - all MarkerRecorded events (local activities, patch markers) of one workflow task: 1;
 *   - 2 per child workflow started (StartChildWorkflowExecutionInitiated).
 * What a history does not show is not counted: heartbeats, queries, schedules' own actions.
 *
 * Pure and shape-free: it reads whatever events a history has, so it counts the histories of
 * any version of the workflows, the fetched ones (client.workflow.getHandle(id).fetchHistory())
 * and the committed ones (historyFromJSON) alike.
 */
import type { History } from '@temporalio/common/lib/proto-utils';

type HistoryEvent = NonNullable<History['events']>[number];

/** Actions by what bills them. */
export interface ActionsByKind {
  starts: number;
  activities: number;
  activityRetries: number;
  timers: number;
  signals: number;
  updates: number;
  searchAttributeUpserts: number;
  /** Workflow tasks that recorded markers (each billed once, whatever the number of markers). */
  markerTasks: number;
  /** Child workflows started (billed 2 each: `actions` counts them twice). */
  childWorkflows: number;
}

export interface HistoryCount {
  actions: number;
  byKind: ActionsByKind;
  /** Every event of the history. */
  events: number;
  /** Workflow tasks a worker took (WorkflowTaskStarted), including ones that failed or timed out. */
  workflowTasks: number;
  /** Upserts not billed: they set only TemporalChangeVersion. */
  exemptUpserts: number;
  /** Markers recorded (patch markers, local activities), before grouping by workflow task. */
  markers: number;
}

const EXEMPT_SEARCH_ATTRIBUTE = 'TemporalChangeVersion';

export function emptyByKind(): ActionsByKind {
  return { starts: 0, activities: 0, activityRetries: 0, timers: 0, signals: 0, updates: 0, searchAttributeUpserts: 0, markerTasks: 0, childWorkflows: 0 };
}

export function actionsOf(byKind: ActionsByKind): number {
  const { childWorkflows, ...single } = byKind;
  return Object.values(single).reduce((a, b) => a + b, 0) + 2 * childWorkflows;
}

/**
 * The signal a signal-with-start writes with the start: Temporal writes it right after
 * WorkflowExecutionStarted, before the first workflow task is scheduled, where no other signal
 * can be (a plain start writes its first workflow task in the same step).
 */
function signalWithStart(events: HistoryEvent[]): HistoryEvent | undefined {
  return events[0]?.workflowExecutionStartedEventAttributes && events[1]?.workflowExecutionSignaledEventAttributes ? events[1] : undefined;
}

export function countHistory(history: History): HistoryCount {
  const events = history.events ?? [];
  const byKind = emptyByKind();
  const withStart = signalWithStart(events);
  const markerTasks = new Set<string>();
  let workflowTasks = 0;
  let exemptUpserts = 0;
  let markers = 0;
  for (const e of events) {
    if (e.workflowExecutionStartedEventAttributes) byKind.starts++;
    else if (e.activityTaskScheduledEventAttributes) byKind.activities++;
    else if (e.activityTaskStartedEventAttributes) byKind.activityRetries += Math.max(0, (e.activityTaskStartedEventAttributes.attempt ?? 1) - 1);
    else if (e.timerStartedEventAttributes) byKind.timers++;
    else if (e.workflowExecutionSignaledEventAttributes) byKind.signals += e === withStart ? 0 : 1;
    else if (e.workflowExecutionUpdateAcceptedEventAttributes) byKind.updates++;
    else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      const keys = Object.keys(e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {});
      if (keys.length > 0 && keys.every((k) => k === EXEMPT_SEARCH_ATTRIBUTE)) exemptUpserts++;
      else byKind.searchAttributeUpserts++;
    } else if (e.markerRecordedEventAttributes) {
      markers++;
      markerTasks.add(String(e.markerRecordedEventAttributes.workflowTaskCompletedEventId ?? `event ${String(e.eventId)}`));
    } else if (e.startChildWorkflowExecutionInitiatedEventAttributes) byKind.childWorkflows++;
    else if (e.workflowTaskStartedEventAttributes) workflowTasks++;
  }
  byKind.markerTasks = markerTasks.size;
  return { actions: actionsOf(byKind), byKind, events: events.length, workflowTasks, exemptUpserts, markers };
}

/** The sum of several histories' counts (a job's own workflow and the ones it caused). */
export function addCounts(counts: HistoryCount[]): HistoryCount {
  const byKind = emptyByKind();
  const total = { events: 0, workflowTasks: 0, exemptUpserts: 0, markers: 0 };
  for (const c of counts) {
    for (const k of Object.keys(byKind) as (keyof ActionsByKind)[]) byKind[k] += c.byKind[k];
    total.events += c.events;
    total.workflowTasks += c.workflowTasks;
    total.exemptUpserts += c.exemptUpserts;
    total.markers += c.markers;
  }
  return { actions: actionsOf(byKind), byKind, ...total };
}

/** "13 actions (start 1, activities 5, …)": the non-zero kinds. */
export function describeActions(c: HistoryCount): string {
  const names: Record<keyof ActionsByKind, string> = {
    starts: 'start',
    activities: 'activities',
    activityRetries: 'retries',
    timers: 'timers',
    signals: 'signals',
    updates: 'updates',
    searchAttributeUpserts: 'search-attribute upserts',
    markerTasks: 'marker tasks',
    childWorkflows: 'child workflows ×2',
  };
  const parts = (Object.keys(names) as (keyof ActionsByKind)[]).filter((k) => c.byKind[k]).map((k) => `${names[k]} ${c.byKind[k]}`);
  return `${c.actions} actions (${parts.join(', ')})`;
}
