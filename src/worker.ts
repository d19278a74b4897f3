import {
  NativeConnection,
  Runtime as TemporalRuntime,
  Worker,
  type LogLevel,
  type LogMetadata,
  type Logger as TemporalLogger,
  type WorkerOptions,
} from '@temporalio/worker';
import { createActivityGroups, DRAINING_ON_MAIN, QUEUE_GROUPS, type Activities, type ActivityGroups } from '../activities';
import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { activityMetricsInterceptor } from './metrics/activities';
import { collectProcessMetrics } from './metrics/registry';
import { metricsAccess } from './metrics/access';
import { startMetricsServer } from './metrics/server';
import { createDependencies, type Dependencies } from './dependencies';
import { taskQueues } from './temporal/names';
import { ensureOutputExpirySchedule, ensureReconcileSchedule } from './temporal/schedules';
import { requestIdActivityInterceptor, WORKFLOW_INTERCEPTOR_MODULES } from './temporal/request-id';

export interface WorkerHandle {
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Four workers in one process, one per task queue: the main queue (workflows, database
 * and storage activities), the two rate-limited Replicate queues, and the webhooks queue.
 * The provider limits are per task queue, enforced by the Temporal server across every
 * worker process, so scaling out never exceeds the provider's account limits. Webhook
 * deliveries wait on receivers we do not control, so they get their own few slots
 * (WEBHOOK_WORKER_CONCURRENCY): a silent receiver cannot take the slots jobs run on.
 */
export async function createWorkers(opts: {
  config: Config;
  runtime: Dependencies;
  /** A prebuilt bundle (production image, tests) instead of bundling at start. */
  workflowBundlePath?: string;
  /** Replaces single activities by name (tests inject faults this way); each stays on its group's queue. */
  activities?: Partial<Activities>;
  connection?: NativeConnection;
}): Promise<WorkerHandle> {
  const { config, runtime } = opts;
  const ownConnection = opts.connection === undefined;
  const connection = opts.connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  const groups = withOverrides(createActivityGroups(runtime), opts.activities ?? {});
  const queueActivities = (queue: keyof typeof QUEUE_GROUPS) => Object.assign({}, ...QUEUE_GROUPS[queue].map((g) => groups[g])) as object;
  const queues = taskQueues(config.temporal.taskQueue);
  const common: Partial<WorkerOptions> = {
    connection,
    namespace: config.temporal.namespace,
    shutdownGraceTime: config.worker.shutdownGraceMs,
    // imagegen_activity_* metrics (src/metrics/activities.ts); the HTTP request id on activity
    // and workflow log lines (src/temporal/request-id.ts, workflows/interceptors.ts)
    interceptors: { activity: [activityMetricsInterceptor, requestIdActivityInterceptor], workflowModules: WORKFLOW_INTERCEPTOR_MODULES },
  };

  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: queues.main,
      // Plus the groups that moved off the main queue, for their retries scheduled here before the move.
      activities: Object.assign(queueActivities('main'), ...DRAINING_ON_MAIN.map((g) => groups[g])) as object,
      ...(opts.workflowBundlePath
        ? { workflowBundle: { codePath: opts.workflowBundlePath } }
        : { workflowsPath: require.resolve('../workflows') }),
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      // A workflow's next task goes to the worker that has it cached; if that worker died
      // (SIGKILL, no goodbye to the server), the task waits this long before any worker may take
      // it. The SDK's 10 s is most of a crash's recovery time (WORKER_STICKY_QUEUE_TIMEOUT_MS).
      stickyQueueScheduleToStartTimeout: config.worker.stickyQueueTimeoutMs,
    }),
    Worker.create({
      ...common,
      taskQueue: queues.providerCreate,
      activities: queueActivities('providerCreate'),
      maxTaskQueueActivitiesPerSecond: config.replicate.createRatePerSecond,
    }),
    Worker.create({
      ...common,
      taskQueue: queues.providerCalls,
      activities: queueActivities('providerCalls'),
      maxTaskQueueActivitiesPerSecond: config.replicate.callRatePerSecond,
    }),
    Worker.create({
      ...common,
      taskQueue: queues.webhooks,
      activities: queueActivities('webhooks'),
      maxConcurrentActivityTaskExecutions: config.webhooks.workerConcurrency,
    }),
  ]);

  return {
    run: async () => {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        if (ownConnection) await connection.close().catch(() => undefined);
      }
    },
    shutdown: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

/** The groups with single activities replaced by name, each replacement in its activity's own group. */
function withOverrides(groups: ActivityGroups, overrides: Partial<Activities>): ActivityGroups {
  const replaced = Object.fromEntries(
    Object.entries(groups).map(([name, group]) => [
      name,
      Object.fromEntries(Object.entries(group).map(([activity, fn]) => [activity, (overrides as Record<string, unknown>)[activity] ?? fn])),
    ]),
  );
  return replaced as ActivityGroups;
}

/**
 * The worker process's Temporal Runtime (once per process, before any connection):
 *  - logs of the SDK, of workflows (`log` from @temporalio/workflow) and of activities (`log`
 *    from @temporalio/activity: every line carries workflowId, workflowType, activityType,
 *    activityId, attempt, taskQueue) go to pino as JSON, like the API's request logs;
 *  - the SDK's own metrics (temporal_* : polls, task latencies, schedule-to-start, slots...) are
 *    served by the SDK's Prometheus exporter on metrics.host:metrics.port (WORKER_METRICS_PORT).
 * Our own worker metrics are on a second port (WORKER_APP_METRICS_PORT, see main()).
 */
export function installWorkerTelemetry(opts: { logger: Logger; metrics?: { host: string; port: number } }): void {
  const metrics = opts.metrics && opts.metrics.port > 0 ? opts.metrics : undefined;
  TemporalRuntime.install({
    logger: temporalLogger(opts.logger),
    telemetryOptions: {
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(metrics
        ? {
            metrics: {
              prometheus: {
                bindAddress: `${metrics.host}:${metrics.port}`,
                // Prometheus naming: counters end in _total, durations in seconds with a unit suffix.
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
              },
            },
          }
        : {}),
    },
  });
}

const PINO_LEVEL: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/** SDK warnings that are expected here: the provider and webhooks task queues have activities only, by design. */
const EXPECTED_WARNINGS = new Set(['No workflows registered, not polling for workflow tasks']);

/** The Temporal SDK's Logger interface over pino (an `error` in the metadata becomes pino's serialized `err`). */
export function temporalLogger(logger: Logger): TemporalLogger {
  const log = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const { error, ...fields } = meta ?? {};
    const pinoLevel = level === 'WARN' && EXPECTED_WARNINGS.has(message) ? 'debug' : (PINO_LEVEL[level] ?? 'info');
    logger[pinoLevel](error === undefined ? fields : { ...fields, err: error }, message);
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger: Logger = createLogger({ level: config.logLevel, name: 'worker' });
  const { workerHost: host, workerSdkPort, workerAppPort } = config.metrics;
  installWorkerTelemetry({ logger, metrics: { host, port: workerSdkPort } });
  collectProcessMetrics({ service: 'worker' });
  // Our metrics follow the API's rule for /metrics: in production only with METRICS_TOKEN, as a bearer token.
  const access = metricsAccess(config);
  const metricsServer = workerAppPort > 0 ? await startMetricsServer({ host, port: workerAppPort, access }) : undefined;
  const runtime = createDependencies(config);
  const workers = await createWorkers({ config, runtime, workflowBundlePath: config.worker.workflowBundlePath });
  const reconcileSchedule = await ensureReconcileSchedule(await runtime.temporalClient(), config);
  const outputExpirySchedule = await ensureOutputExpirySchedule(await runtime.temporalClient(), config);
  const stop = (signal: string) => {
    logger.info({ signal, graceMs: config.worker.shutdownGraceMs }, 'draining: no new tasks, finishing in-flight activities, then exiting');
    void workers.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  logger.info(
    {
      taskQueues: taskQueues(config.temporal.taskQueue),
      reconcileSchedule,
      outputExpirySchedule,
      metrics: {
        sdk: workerSdkPort > 0 ? `http://${host}:${workerSdkPort}/metrics` : 'off',
        app: !metricsServer
          ? 'off'
          : !access.served
            ? 'not served (404): production without METRICS_TOKEN'
            : `http://${host}:${metricsServer.port}/metrics${access.token ? ' (Authorization: Bearer <METRICS_TOKEN>)' : ''}`,
      },
    },
    'worker started',
  );
  await workers.run();
  await runtime.close();
  await metricsServer?.close();
  logger.info('worker stopped');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
