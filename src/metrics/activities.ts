import { CancelledFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { Counter, Histogram } from 'prom-client';
import { METRIC_PREFIX, registry } from './registry';

/** Activity executions seen by this worker process, by activity type (a closed set: the registered activities). */
export const activityExecutions = new Counter({
  name: `${METRIC_PREFIX}activity_executions_total`,
  help: 'Activity executions (attempts) by activity type and outcome (completed, failed, canceled)',
  labelNames: ['activity_type', 'outcome'] as const,
  registers: [registry],
});

export const activityRetries = new Counter({
  name: `${METRIC_PREFIX}activity_retries_total`,
  help: 'Activity attempts after the first, by activity type',
  labelNames: ['activity_type'] as const,
  registers: [registry],
});

export const activityDuration = new Histogram({
  name: `${METRIC_PREFIX}activity_duration_seconds`,
  help: 'Activity execution time in this worker, by activity type and outcome',
  labelNames: ['activity_type', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [registry],
});

/**
 * Counts and times every activity attempt. (The SDK's own temporal_activity_* series count
 * the same on the SDK metrics port; these add the outcome split and live next to the business
 * counters.)
 */
export const activityMetricsInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const type = ctx.info.activityType;
      if (ctx.info.attempt > 1) activityRetries.inc({ activity_type: type });
      const started = process.hrtime.bigint();
      const done = (outcome: 'completed' | 'failed' | 'canceled') => {
        activityExecutions.inc({ activity_type: type, outcome });
        activityDuration.observe({ activity_type: type, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
      };
      try {
        const result = await next(input);
        done('completed');
        return result;
      } catch (err) {
        done(err instanceof CancelledFailure ? 'canceled' : 'failed');
        throw err;
      }
    },
  },
});
