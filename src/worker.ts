import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { createRuntime, type Runtime } from './runtime';
import { taskQueues } from './temporal/names';

export interface WorkerHandle {
  run(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Three workers in one process, one per task queue: the main queue (workflows, database
 * and storage activities) and the two rate-limited Replicate queues. The limits are per
 * task queue, enforced by the Temporal server across every worker process, so scaling
 * out never exceeds the provider's account limits.
 */
export async function createWorkers(opts: {
  config: Config;
  runtime: Runtime;
  /** A prebuilt bundle (production image, tests) instead of bundling at start. */
  workflowBundlePath?: string;
  activities?: Partial<ReturnType<typeof createActivities>>;
  connection?: NativeConnection;
}): Promise<WorkerHandle> {
  const { config, runtime } = opts;
  const connection = opts.connection ?? (await NativeConnection.connect({ address: config.temporal.address }));
  const activities = { ...createActivities(runtime), ...opts.activities };
  const queues = taskQueues(config.temporal.taskQueue);
  const common: Partial<WorkerOptions> = {
    connection,
    namespace: config.temporal.namespace,
    activities,
    shutdownGraceTime: config.worker.shutdownGraceMs,
  };

  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: queues.main,
      ...(opts.workflowBundlePath
        ? { workflowBundle: { codePath: opts.workflowBundlePath } }
        : { workflowsPath: require.resolve('../workflows') }),
      maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: config.worker.maxConcurrentWorkflowTasks,
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
    }),
    Worker.create({
      ...common,
      taskQueue: queues.providerCreate,
      maxTaskQueueActivitiesPerSecond: config.replicate.createRatePerSecond,
    }),
    Worker.create({
      ...common,
      taskQueue: queues.providerCalls,
      maxTaskQueueActivitiesPerSecond: config.replicate.callRatePerSecond,
    }),
  ]);

  return {
    run: async () => {
      await Promise.all(workers.map((w) => w.run()));
    },
    shutdown: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger: Logger = createLogger({ level: config.logLevel, name: 'worker' });
  const runtime = createRuntime(config);
  const workers = await createWorkers({ config, runtime, workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined });
  const stop = (signal: string) => {
    logger.info({ signal }, 'draining: finishing in-flight activities, then exiting');
    void workers.shutdown();
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  logger.info({ taskQueues: taskQueues(config.temporal.taskQueue) }, 'worker started');
  await workers.run();
  await runtime.close();
  logger.info('worker stopped');
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
