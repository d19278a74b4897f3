import type { ActivityOptions } from '@temporalio/workflow';
import { ErrorCode, PROVIDER_NON_RETRYABLE } from '../src/error-codes';
import type { TaskQueues } from '../src/temporal/names';

/**
 * Named activity option presets, written out in full. Retries and backoff live here,
 * never in hand-written loops; each policy lists what must not be retried.
 */

/** A short Postgres step. Retries until the database is back, for up to 10 minutes. */
export const databaseStep: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: {
    initialInterval: '200 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    nonRetryableErrorTypes: [ErrorCode.jobNotFound],
  },
};

/**
 * Creating a prediction or training on Replicate, on the rate-limited create queue. A 429
 * retries after the provider's reset time (nextRetryDelay); invalid input fails at once.
 */
export function providerCreate(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.providerCreate,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '30 minutes',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: PROVIDER_NON_RETRYABLE,
    },
  };
}

/** Any other Replicate call (get, cancel), on the rate-limited calls queue. */
export function providerCall(queues: TaskQueues): ActivityOptions {
  return {
    taskQueue: queues.providerCalls,
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '10 minutes',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: PROVIDER_NON_RETRYABLE,
    },
  };
}

/** Streaming one provider output into our bucket. An expired output cannot come back. */
export const outputCopy: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  scheduleToCloseTimeout: '30 minutes',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 10,
    nonRetryableErrorTypes: [ErrorCode.outputExpired],
  },
};

/** Decoding and re-encoding photos into the training zip: heartbeats per image. */
export const imageProcessing: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [ErrorCode.outputMissing],
  },
};
