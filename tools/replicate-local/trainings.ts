import type { z } from 'zod';
import type { ServerContext } from './context';
import { describeUrl, downloadInput } from './fetch-input';
import { sha256Hex } from './hash';
import { newJobId } from './ids';
import { trainingInput } from './input-schemas';
import { appendLog, emit, finish, markProcessing, publishFile, runJob, setOutput } from './job-lifecycle';
import { planJob, processingDeadline } from './job-plan';
import { newJob, type Job, type WebhookEvent } from './jobs';
import type { Model, ModelVersion } from './models';
import { notFound, unprocessable } from './problem';
import { countTrainingImages, loraWeights } from './training-data';
import { parseOrThrow } from './validation';

/** Progress log lines written during a training (0%, 10%, ... 100%). */
const PROGRESS_TICKS = 10;
const BAR_WIDTH = 10;
const PARTIAL_BLOCKS = ' ▏▎▍▌▋▊▉';

export interface TrainingRequest {
  destination: string;
  input: Record<string, unknown>;
  webhook?: string | undefined;
  webhook_events_filter?: WebhookEvent[] | undefined;
}

type TrainingInput = z.output<typeof trainingInput>;

/** Validates the request (422 / 404), registers the training and starts running it. */
export function createTraining(ctx: ServerContext, trainer: ModelVersion, request: TrainingRequest): Job {
  if (trainer.kind !== 'lora-trainer') {
    throw unprocessable('Invalid version', `Version ${trainer.id} (${trainer.model}) does not support training.`);
  }
  const input = parseOrThrow(trainingInput, request.input, 'input');
  const plan = planJob(request.input, ctx.knobs.training_latency_ms);
  const destination = destinationModel(ctx, request.destination);
  const job = newJob({
    kind: 'training',
    id: newJobId(),
    model: trainer.model,
    version: trainer.id,
    input: request.input,
    webhook: request.webhook,
    webhookEventsFilter: request.webhook_events_filter,
    plan,
    destination: request.destination,
  });
  ctx.store.add(job);
  ctx.stats.trainings_created++;
  emit(ctx, job, 'start');
  runJob(ctx, job, () => runTraining(ctx, job, destination, input));
  return job;
}

/** Continues a training that was running when the server stopped: it trains again from the start, on its planned schedule. */
export function resumeTraining(ctx: ServerContext, job: Job): void {
  const input = parseOrThrow(trainingInput, job.input, 'input');
  const destination = destinationModel(ctx, job.destination ?? '');
  runJob(ctx, job, () => runTraining(ctx, job, destination, input));
}

function destinationModel(ctx: ServerContext, destination: string): Model {
  const [owner = '', name = ''] = destination.split('/');
  const model = ctx.registry.get(owner, name);
  if (!model) throw notFound(`The specified training destination does not exist: ${destination}`);
  return model;
}

/** Downloads and checks the images, logs tqdm-like progress, then adds a version to the destination model. */
async function runTraining(ctx: ServerContext, job: Job, destination: Model, input: TrainingInput): Promise<void> {
  const { control, plan } = job;
  const log = (line: string) => appendLog(ctx, job, line);
  await control.sleepUntil(processingDeadline(job, 0));
  markProcessing(ctx, job);
  log(`Downloading input_images from ${describeUrl(input.input_images)}`);
  const images = await countTrainingImages(await downloadInput(input.input_images, 'input_images', control.signal));
  log(`Found ${images} training images, trigger word: ${input.trigger_word}`);
  const steps = input.steps ?? ctx.knobs.training_steps;
  for (let tick = 0; tick <= PROGRESS_TICKS; tick++) {
    await control.sleepUntil(processingDeadline(job, tick / PROGRESS_TICKS));
    log(progressLine(tick / PROGRESS_TICKS, steps, elapsedSeconds(job)));
  }
  if (plan.error) return finish(ctx, job, 'failed', plan.error);
  const version = ctx.registry.addVersion(destination, 'flux-text-to-image', trainedVersionId(job));
  const weights = loraWeights({ format: 'pt', trigger_word: input.trigger_word, steps: String(steps), images: String(images) });
  setOutput(ctx, job, {
    version: `${destination.owner}/${destination.name}:${version.id}`,
    weights: publishFile(ctx, job, 'weights.safetensors', { contentType: 'application/octet-stream', data: weights }),
  });
  finish(ctx, job, 'succeeded');
}

/** Derived from the training, so a training rerun after a restart adds the same version (once). */
function trainedVersionId(job: Job): string {
  return sha256Hex(`replicate-local:training:${job.id}`);
}

function elapsedSeconds(job: Job): number {
  return job.startedAt ? (Date.now() - job.startedAt.getTime()) / 1000 : 0;
}

/** A tqdm-style line like the real trainer's: "flux_train_replicate:  40%|████      | 400/1000 [00:12<00:18, 33.33it/s]". */
function progressLine(fraction: number, total: number, elapsed: number): string {
  const current = Math.round(fraction * total);
  const rate = elapsed > 0 ? current / elapsed : 0;
  const remaining = rate > 0 ? (total - current) / rate : 0;
  const percent = String(Math.round(fraction * 100)).padStart(3);
  return `flux_train_replicate: ${percent}%|${progressBar(fraction)}| ${current}/${total} [${clock(elapsed)}<${clock(remaining)}, ${rate.toFixed(2)}it/s]`;
}

function progressBar(fraction: number): string {
  const eighths = Math.round(fraction * BAR_WIDTH * 8);
  const partial = eighths % 8 ? PARTIAL_BLOCKS[eighths % 8] : '';
  return `${'█'.repeat(Math.floor(eighths / 8))}${partial}`.padEnd(BAR_WIDTH);
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}
