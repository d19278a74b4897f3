import type { ServerContext } from './context';
import { newJobId } from './ids';
import { appendLog, emit, finish, markProcessing, publishFile, runJob, setOutput } from './job-lifecycle';
import { planJob, processingDeadline, type JobPlan } from './job-plan';
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
  });
  ctx.store.add(job);
  ctx.stats.predictions_created++;
  ctx.registry.countRun(version);
  emit(ctx, job, 'start');
  runJob(ctx, job, () => runPrediction(ctx, job, run, plan));
  return job;
}

/** starting → processing (after 20% of the latency) → outputs → succeeded/failed at the full latency. */
async function runPrediction(ctx: ServerContext, job: Job, run: RunOutputs, plan: JobPlan): Promise<void> {
  const { control } = job;
  await control.sleepUntil(processingDeadline(job, plan, 0));
  markProcessing(ctx, job);
  const env = { log: (line: string) => appendLog(ctx, job, line), signal: control.signal };
  const outputs = plan.error ? [] : await run(env);
  await control.sleepUntil(processingDeadline(job, plan, 1));
  if (plan.error) return finish(ctx, job, 'failed', plan.error);
  const urls = outputs.map((file, index) => publishFile(ctx, job, `${index}.${file.ext}`, file));
  setOutput(ctx, job, urls);
  finish(ctx, job, 'succeeded');
}
