import { ApplicationFailure, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type {
  CopiedOutput,
  DatabaseActivities,
  OutputsOwner,
  RunOwner,
  ImageActivities,
  OutputActivities,
  PredictionSnapshot,
  ProviderCallActivities,
  ProviderCreateActivities,
} from '../activities';
import { ErrorCode } from '../src/error-codes';
import { errorText, outputUrls } from '../src/provider/prediction';
import { taskQueues } from '../src/temporal/names';
import { SA } from '../src/temporal/search-attributes';
import { databaseStep, imageProcessing, outputCopy, providerCall, providerCreate } from './activity-options';
import type { Deadline } from './deadline';
import { isTerminal, trackPredictions } from './prediction-wait';

/**
 * The activity stubs every workflow uses: each typed by its group (activities/index.ts), so
 * an activity can only be called on the task queue and under the preset of its group.
 */
export function workflowActivities() {
  const queues = taskQueues(workflowInfo().taskQueue);
  return {
    db: proxyActivities<DatabaseActivities>(databaseStep),
    images: proxyActivities<ImageActivities>(imageProcessing),
    create: proxyActivities<ProviderCreateActivities>(providerCreate(queues)),
    calls: proxyActivities<ProviderCallActivities>(providerCall(queues)),
    copy: proxyActivities<OutputActivities>(outputCopy),
  };
}
export type WorkflowActivities = ReturnType<typeof workflowActivities>;

/** The business status operators filter on in the Temporal UI. */
export function setStatus(status: string): void {
  upsertSearchAttributes([{ key: SA.jobStatus, value: status }]);
}

export interface PredictionRequest {
  model: string;
  input: Record<string, unknown>;
  webhookUrl: string | null;
  pollIntervalMs: number;
  timeoutMs: number;
}

/**
 * Creates a prediction and waits until it has succeeded (webhook signal, polling
 * fallback). `onCreated` records it while the wait goes on. A failed or canceled
 * prediction throws with its code. Call it before the workflow's first other await,
 * so no early webhook signal is missed.
 */
export function predictionRunner(acts: WorkflowActivities) {
  const predictions = trackPredictions({ kind: 'prediction', cancel: acts.calls.cancelStrayRun });
  return async function run(
    req: PredictionRequest,
    onCreated: (created: PredictionSnapshot & { attempts: number }) => Promise<void>,
  ): Promise<PredictionSnapshot> {
    const created = await acts.create.createPrediction({ model: req.model, input: req.input, webhookUrl: req.webhookUrl });
    predictions.record(created);
    // Recording the run and waiting for it go on together; a failure of either ends the run.
    const [, done] = await Promise.all([
      onCreated(created),
      isTerminal(created)
        ? created
        : predictions.waitFor(created.id, {
            pollIntervalMs: req.pollIntervalMs,
            timeoutMs: req.timeoutMs,
            poll: acts.calls.getPrediction,
            cancel: acts.calls.cancelPrediction,
          }),
    ]);
    assertSucceeded(done);
    return done;
  };
}

export function assertSucceeded(p: PredictionSnapshot): void {
  if (p.status === 'failed') throw ApplicationFailure.nonRetryable(errorText(p.error), ErrorCode.predictionFailed);
  if (p.status === 'canceled') throw ApplicationFailure.nonRetryable('The prediction was canceled at the provider', ErrorCode.predictionCanceled);
}

/** Copies a finished prediction's outputs into our bucket, one activity per file, in parallel. */
export async function copyOutputs(acts: WorkflowActivities, keyPrefix: string, p: PredictionSnapshot, max = Infinity): Promise<CopiedOutput[]> {
  const urls = outputUrls(p.output).slice(0, max);
  if (urls.length === 0) throw ApplicationFailure.nonRetryable('The model finished without any output file', ErrorCode.outputMissing);
  return Promise.all(urls.map((url, index) => acts.copy.copyOutput({ keyPrefix, index, url })));
}

export interface StoredRunRequest extends PredictionRequest {
  /** Whose run it is: the create records it (and reserves what the owner needs first). */
  owner: RunOwner;
  /** Whose outputs they are: storing them records them and settles the reservation. */
  outputsOwner: OutputsOwner;
  keyPrefix: string;
  /** At most this many outputs are stored (and charged), whatever the model returns. */
  maxOutputs: number;
}

/**
 * A job's or prompt's run in as few engine steps as its guarantees allow (each one Temporal
 * records and Temporal Cloud bills): one activity creates the prediction and records it on its
 * owner, the completion webhook's signal ends the wait (a poll on a timer covers a lost one),
 * and one activity stores every output and settles the owner. `onCreated` hears the run's id
 * (for a cancel). Make `predictions` with trackPredictions before the workflow's first await.
 */
export async function runAndStore(
  acts: WorkflowActivities,
  predictions: ReturnType<typeof trackPredictions>,
  deadline: Deadline,
  req: StoredRunRequest,
  onCreated: (id: string) => void,
): Promise<{ predictionId: string; outputs: number }> {
  const created = await acts.create.createPrediction({ model: req.model, input: req.input, webhookUrl: req.webhookUrl, owner: req.owner });
  onCreated(created.id);
  predictions.record(created);
  const done = isTerminal(created)
    ? created
    : await predictions.waitFor(created.id, {
        pollIntervalMs: req.pollIntervalMs,
        timeoutMs: req.timeoutMs,
        poll: acts.calls.getPrediction,
        cancel: acts.calls.cancelPrediction,
      });
  assertSucceeded(done);
  deadline.providerDone = true;
  const urls = outputUrls(done.output).slice(0, req.maxOutputs);
  if (urls.length === 0) throw ApplicationFailure.nonRetryable('The model finished without any output file', ErrorCode.outputMissing);
  const outputs = await acts.copy.storeOutputs({ keyPrefix: req.keyPrefix, urls, owner: withRunFigures(req.outputsOwner, done) });
  return { predictionId: done.id, outputs };
}

/** A job's outputs carry its run's figures (provider metrics, completion time). */
function withRunFigures(owner: OutputsOwner, done: PredictionSnapshot): OutputsOwner {
  return 'job' in owner ? { job: { ...owner.job, metrics: done.metrics, providerCompletedAt: done.completedAt } } : owner;
}
