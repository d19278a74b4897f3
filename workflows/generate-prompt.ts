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
import { errorText, outputUrls } from '../src/provider/prediction';
import { taskQueues } from '../src/temporal/names';
import { SA } from '../src/temporal/search-attributes';
import { databaseStep, outputCopy, providerCall, providerCreate } from './activity-options';
import { describeFailure } from './failure';
import { isTerminal, trackPredictions } from './prediction-wait';

export interface GeneratePromptInput {
  promptId: string;
  versionId: string;
  /** "owner/name:version" of the user's trained model. */
  model: string;
  input: Record<string, unknown>;
  numOutputs: number;
  webhookUrl: string | null;
  pollIntervalMs: number;
  timeoutMs: number;
}

/**
 * One prompt on a user's trained model. The workflow id is the model's, so a model runs
 * one prompt at a time. Images are reserved before the prediction starts; success commits
 * the images actually stored, failure or cancel releases the reservation.
 */
export async function generatePrompt(p: GeneratePromptInput): Promise<{ images: number }> {
  const queues = taskQueues(workflowInfo().taskQueue);
  const db = proxyActivities<Activities>(databaseStep);
  const create = proxyActivities<Activities>(providerCreate(queues));
  const calls = proxyActivities<Activities>(providerCall(queues));
  const copy = proxyActivities<Activities>(outputCopy);
  const predictions = trackPredictions();
  let predictionId: string | undefined;
  const setStatus = (status: string) => upsertSearchAttributes([{ key: SA.jobStatus, value: status }]);

  // Every way out settles the reservation (a no-op if it was never taken).
  try {
    await db.reservePromptImages({ promptId: p.promptId, versionId: p.versionId, images: p.numOutputs });
    const created = await create.createPrediction({ model: p.model, input: p.input, webhookUrl: p.webhookUrl });
    predictionId = created.id;
    predictions.record(created);
    setStatus('running');
    const markedRunning = db.markPromptRunning({ promptId: p.promptId, predictionId: created.id });
    const done = isTerminal(created)
      ? created
      : await predictions.waitFor(created.id, {
          pollIntervalMs: p.pollIntervalMs,
          timeoutMs: p.timeoutMs,
          poll: calls.getPrediction,
          cancel: calls.cancelPrediction,
        });
    await markedRunning;

    if (done.status === 'failed') throw ApplicationFailure.nonRetryable(errorText(done.error), ErrorCode.predictionFailed);
    if (done.status === 'canceled') throw ApplicationFailure.nonRetryable('The prediction was canceled at the provider', ErrorCode.predictionCanceled);
    const urls = outputUrls(done.output).slice(0, p.numOutputs);
    if (urls.length === 0) throw ApplicationFailure.nonRetryable('The model finished without any image', ErrorCode.outputMissing);

    const images = await Promise.all(urls.map((url, index) => copy.copyOutput({ keyPrefix: `prompts/${p.promptId}`, index, url })));
    await db.completePrompt({ promptId: p.promptId, versionId: p.versionId, images });
    setStatus('succeeded');
    return { images: images.length };
  } catch (err) {
    const canceled = isCancellation(err);
    const failure = canceled ? { code: ErrorCode.predictionCanceled, message: 'Canceled by request' } : describeFailure(err);
    await CancellationScope.nonCancellable(async () => {
      if (canceled && predictionId) await calls.cancelPrediction(predictionId).catch(() => undefined);
      await db.finishPrompt({ promptId: p.promptId, versionId: p.versionId, status: canceled ? 'canceled' : 'failed', ...failure });
    });
    setStatus(canceled ? 'canceled' : 'failed');
    if (canceled) throw err;
    throw ApplicationFailure.nonRetryable(failure.message, failure.code);
  }
}
