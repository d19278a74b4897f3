import type { ActivityOptions } from '@temporalio/workflow';
import { ErrorCode, PROVIDER_NON_RETRYABLE } from '../src/error-codes';
import type { TaskQueues } from '../src/temporal/names';

/**
 * Named activity option presets, written out in full. Retries and backoff live here,
 * never in hand-written loops; each policy lists what must not be retried.
 */

/**
 * How long each kind of step may take decides how fast a job recovers when a worker dies
 * mid-step: Temporal retries an activity only once its start-to-close (or heartbeat) timeout
 * has passed. So every preset's timeout is close to what its work needs, and long or
 * streaming steps heartbeat every few seconds instead of having a long timeout.
 */

/**
 * A short Postgres step: a few statements, milliseconds normally. The database client fails a
 * dead connection within seconds (connect and statement timeouts), and the retry goes on
 * until the database is back, for up to 10 minutes.
 */
export const databaseStep: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    nonRetryableErrorTypes: [ErrorCode.jobNotFound, ErrorCode.promptNotFound, ErrorCode.versionNotFound, ErrorCode.inputFileMissing],
  },
};

/**
 * Creating a prediction or training on Replicate, on the rate-limited create queue. A 429
 * retries after the provider's reset time (nextRetryDelay); invalid input fails at once. A create
 * for a job or prompt also records it in Postgres, so retries stay at most 10 s apart: a database
 * restart delays the job by seconds, not by a minute of backoff (the task queue's rate limit
 * keeps a failing provider from being flooded).
 */
export function providerCreate(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.providerCreate,
    // A create answers in about a second; the provider client gives up after 10 s. A retry
    // after a create that may have reached the provider adopts that prediction instead of
    // starting a second paid one (activities/provider.ts).
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: '30 minutes',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '10 seconds',
      nonRetryableErrorTypes: PROVIDER_NON_RETRYABLE,
    },
  };
}

/** Any other Replicate call (get, cancel), on the rate-limited calls queue. */
export function providerCall(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.providerCalls,
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: '10 minutes',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: PROVIDER_NON_RETRYABLE,
    },
  };
}

/**
 * Streaming one provider output into our bucket. It heartbeats while bytes flow, so a copy
 * on a dead worker is retried within seconds, however large the file. An expired output
 * cannot come back; a refused URL never will be allowed.
 */
export const outputCopy: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '10 seconds',
  scheduleToCloseTimeout: '30 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [ErrorCode.outputExpired],
  },
};

/**
 * Decoding and re-encoding photos into the training zip. It heartbeats per photo and a retry
 * resumes after the photos already prepared (activities/training.ts).
 */
export const imageProcessing: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [ErrorCode.trainingPhotoMissing],
  },
};

/**
 * A Stripe API call (reconciliation asks Stripe about a checkout, then applies it). The Stripe
 * client gives up after 10 s and retries network failures twice itself, so one attempt may
 * take about 30 s. A refusal no retry can fix (invalid request, e.g. no such session; card
 * error; bad key) fails at once. What still fails after a few attempts is counted and left
 * for the next reconciliation run, instead of holding this one for long.
 */
export const stripeCall: ActivityOptions = {
  startToCloseTimeout: '45 seconds',
  scheduleToCloseTimeout: '3 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 4,
    nonRetryableErrorTypes: [ErrorCode.stripeInvalidRequest, ErrorCode.stripeCardError, ErrorCode.stripeAuthFailed],
  },
};

/**
 * Posting one event to a user's webhook (workflows/deliver-webhooks.ts), on the webhooks task
 * queue with its own few worker slots, so a slow or silent receiver never holds a slot that jobs
 * need. An attempt gives the receiver WEBHOOK_CONNECT_TIMEOUT_MS to accept the connection and
 * WEBHOOK_TIMEOUT_MS (at most 10 s) in all. Failed attempts are retried with backoff up to 10
 * minutes apart for a day and a bit, like Replicate's own; while the endpoint's breaker holds it
 * paused, an attempt fails at once and the next one is due when the pause ends (nextRetryDelay),
 * so waiting holds no slot. A URL we refuse to post to, a disabled endpoint, or a resource that
 * is gone is not retried.
 */
export function webhookDelivery(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.webhooks,
    startToCloseTimeout: '12 seconds',
    scheduleToCloseTimeout: '25 hours',
    retry: WEBHOOK_RETRY,
  };
}

/** The webhookDelivery retry policy (activities/webhooks-out.ts computes `next_retry_at` from it). */
export const WEBHOOK_RETRY = {
  initialInterval: 1000,
  backoffCoefficient: 2,
  maximumInterval: 600_000,
  nonRetryableErrorTypes: [ErrorCode.webhookUrlRefused, ErrorCode.webhookEndpointDisabled, ErrorCode.jobNotFound, ErrorCode.promptNotFound, ErrorCode.versionNotFound, ErrorCode.batchNotFound],
} satisfies ActivityOptions['retry'];

/**
 * A redelivery asked for by the resource's owner (POST /webhooks/deliveries/{id}/redeliver): one
 * attempt, now, recorded in the deliveries list like any other; the owner decides whether to ask
 * again. The same slots and timeouts as webhookDelivery.
 */
export function webhookRedelivery(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.webhooks,
    startToCloseTimeout: '12 seconds',
    scheduleToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 1, nonRetryableErrorTypes: WEBHOOK_RETRY.nonRetryableErrorTypes },
  };
}

/**
 * One page of output expiry: a select, one S3 DeleteObjects and one update, in a transaction of
 * at most 9 s. Retried like a database step; a page that failed half-way is found again.
 */
export const outputExpiry: ActivityOptions = {
  startToCloseTimeout: '10 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    nonRetryableErrorTypes: [],
  },
};
