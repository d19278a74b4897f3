import type { Priority } from '@temporalio/common';
import type { JobKind } from './search-attributes';

/**
 * Temporal Task Queue Priority and Fairness: every workflow starts with its account as the
 * fairness key, and its activities (on the main queue, both provider queues and the webhook
 * queue) inherit it. Matching then gives each account with a backlog its share of a queue's
 * dispatches in turn instead of first come, first served: one account's thousand queued jobs
 * wait behind each other, not in front of another account's one. Needs `matching.useNewMatcher`
 * and `matching.enableFairness` in the server's dynamic config (temporal-config/).
 *
 * Priority keys (1 = first, the server's default is 3) order the kinds of work within that:
 * someone waiting on a picture goes before background work.
 */
export const PRIORITY_KEY = {
  /** A generation job or a prompt: a person is usually watching it. */
  interactive: 2,
  /** A training: minutes of provider time, checked on in minutes. */
  training: 3,
  /** Webhook deliveries: a receiver, not a person, waits; never ahead of the work itself. */
  delivery: 4,
} as const;

const KIND_PRIORITY: Record<JobKind, number> = {
  generation: PRIORITY_KEY.interactive,
  prompt: PRIORITY_KEY.interactive,
  training: PRIORITY_KEY.training,
};

/** Fairness keys are at most 64 bytes; an account id (a uuid) is 36. */
export function accountPriority(userId: string, priorityKey: number): Priority {
  return { fairnessKey: userId, priorityKey };
}

/** The priority a workflow of this kind starts with. */
export function workPriority(kind: JobKind, userId: string): Priority {
  return accountPriority(userId, KIND_PRIORITY[kind]);
}
