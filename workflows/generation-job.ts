import {
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  proxyActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import { ErrorCode } from '../src/error-codes';
import { outputUrls, errorText } from '../src/provider/prediction';
import { taskQueues } from '../src/temporal/names';
import { SA } from '../src/temporal/search-attributes';
import { databaseStep, outputCopy, providerCall, providerCreate } from './activity-options';
import { describeFailure } from './failure';
import { isTerminal, trackPredictions } from './prediction-wait';

export interface GenerationJobInput {
  jobId: string;
  /** "owner/name" or "owner/name:version". */
  model: string;
  /** The provider input, exactly as the model receives it, less the input file. */
  input: Record<string, unknown>;
  /** The caller's upload, handed to the model as a presigned URL in its file field. */
  inputFile: { uploadId: string; field: string } | null;
  /** Where the provider posts completion; null relies on polling alone. */
  webhookUrl: string | null;
  pollIntervalMs: number;
  timeoutMs: number;
}

export interface GenerationJobResult {
  predictionId: string;
  outputs: number;
}

/**
 * A generic "run a Replicate model" job: create the prediction, wait for it (webhook
 * signal, polling fallback), copy every output into our bucket in parallel, record them.
 * Failure records the error; cancellation also cancels the provider prediction. Recording
 * the outcome settles the credits reserved when the job was accepted: success commits
 * what the stored outputs cost and releases the rest, failure and cancel release it all.
 */
export async function generationJob(job: GenerationJobInput): Promise<GenerationJobResult> {
  const queues = taskQueues(workflowInfo().taskQueue);
  const db = proxyActivities<Activities>(databaseStep);
  const create = proxyActivities<Activities>(providerCreate(queues));
  const calls = proxyActivities<Activities>(providerCall(queues));
  const copy = proxyActivities<Activities>(outputCopy);
  const predictions = trackPredictions();
  let predictionId: string | undefined;

  try {
    // The URL is made now, not when the job was accepted, so it is fresh when the provider fetches it.
    const input = job.inputFile ? { ...job.input, [job.inputFile.field]: await db.presignUpload({ uploadId: job.inputFile.uploadId }) } : job.input;
    const created = await create.createPrediction({ model: job.model, input, webhookUrl: job.webhookUrl });
    predictionId = created.id;
    predictions.record(created);
    upsertSearchAttributes([{ key: SA.jobStatus, value: 'running' }]);
    const markedRunning = db.markJobRunning({
      jobId: job.jobId,
      predictionId: created.id,
      modelVersion: created.version,
      retryCount: created.attempts - 1,
    });

    const done = isTerminal(created)
      ? created
      : await predictions.waitFor(created.id, {
          pollIntervalMs: job.pollIntervalMs,
          timeoutMs: job.timeoutMs,
          poll: calls.getPrediction,
          cancel: calls.cancelPrediction,
        });
    await markedRunning;

    if (done.status === 'failed') throw ApplicationFailure.nonRetryable(errorText(done.error), ErrorCode.predictionFailed);
    if (done.status === 'canceled') throw ApplicationFailure.nonRetryable('The prediction was canceled at the provider', ErrorCode.predictionCanceled);
    const urls = outputUrls(done.output);
    if (urls.length === 0) throw ApplicationFailure.nonRetryable('The model finished without any output file', ErrorCode.outputMissing);

    const outputs = await Promise.all(
      urls.map((url, index) => copy.copyOutput({ keyPrefix: `jobs/${job.jobId}`, index, url })),
    );
    await db.completeJob({ jobId: job.jobId, outputs, metrics: done.metrics, providerCompletedAt: done.completedAt });
    upsertSearchAttributes([{ key: SA.jobStatus, value: 'succeeded' }]);
    return { predictionId: created.id, outputs: outputs.length };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (predictionId) await calls.cancelPrediction(predictionId).catch(() => undefined);
        await db.cancelJob({ jobId: job.jobId });
        upsertSearchAttributes([{ key: SA.jobStatus, value: 'canceled' }]);
      });
      throw err;
    }
    const failure = describeFailure(err);
    await CancellationScope.nonCancellable(() => db.failJob({ jobId: job.jobId, ...failure }));
    upsertSearchAttributes([{ key: SA.jobStatus, value: 'failed' }]);
    throw ApplicationFailure.nonRetryable(failure.message, failure.code);
  }
}
