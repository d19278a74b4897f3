import type { ServerContext } from './context';
import { newJobId } from './ids';
import { appendLog, emit, finish, markProcessing, publishFile, runJob, setOutput } from './job-lifecycle';
import { planJob, processingDeadline } from './job-plan';
import { newJob, type Job, type WebhookEvent } from './jobs';
import { MODEL_RUNNERS, type RunOutputs } from './model-runners';
import type { ModelVersion } from './models';
import { unprocessable } from './problem';

/** The error of predictions failed by the `failure_rate` knob. */
export const SIMULATED_FAILURE = 'Prediction failed: model crashed (simulated)';

export interface PredictionRequest {
  input: Record<string, unknown>;
  webhook?: string | undefined;
  webhook_events_filter?: WebhookEvent[] | undefined;
}

/** Validates the input (throws 422), registers the prediction and starts running it. */
export function createPrediction(ctx: ServerContext, version: ModelVersion, request: PredictionRequest): Job {
  const runner = MODEL_RUNNERS[version.kind];
  if (!runner) {
    throw unprocessable('Invalid version', `Version ${version.id} (${version.model}) is a trainer: create a training instead.`);
  }
  const run = runner(request.input);
  const simulatedFailure = Math.random() < ctx.knobs.failure_rate ? SIMULATED_FAILURE : undefined;
  const plan = planJob(request.input, ctx.knobs.latency_ms, simulatedFailure);
  const job = newJob({
    kind: 'prediction',
    id: newJobId(),
    model: version.model,
    version: version.id,
    input: request.input,
    webhook: request.webhook,
    webhookEventsFilter: request.webhook_events_filter,
    plan,
  });
  ctx.store.add(job);
  ctx.stats.predictions_created++;
  ctx.registry.countRun(version);
  emit(ctx, job, 'start');
  runJob(ctx, job, () => runPrediction(ctx, job, run));
  return job;
}

/**
 * Continues a prediction that was running when the server stopped: its model runs again from the
 * start (same seed, so the same outputs and log lines), on the schedule planned at creation.
 */
export function resumePrediction(ctx: ServerContext, job: Job): void {
  const runner = MODEL_RUNNERS[ctx.registry.resolve(job.version).kind];
  if (!runner) throw new Error(`Version ${job.version} cannot run predictions`);
  const run = runner(job.input);
  runJob(ctx, job, () => runPrediction(ctx, job, run));
}

/** starting → processing (after 20% of the latency) → outputs → succeeded/failed at the full latency. */
async function runPrediction(ctx: ServerContext, job: Job, run: RunOutputs): Promise<void> {
  const { control, plan } = job;
  await control.sleepUntil(processingDeadline(job, 0));
  markProcessing(ctx, job);
  const env = { log: (line: string) => appendLog(ctx, job, line), signal: control.signal, seed: plan.seed };
  const outputs = plan.error ? [] : await run(env);
  await control.sleepUntil(processingDeadline(job, 1));
  if (plan.error) return finish(ctx, job, 'failed', plan.error);
  const urls = outputs.map((file, index) => publishFile(ctx, job, `${index}.${file.ext}`, file));
  setOutput(ctx, job, urls);
  finish(ctx, job, 'succeeded');
}
