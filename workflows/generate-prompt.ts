import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { ErrorCode } from '../src/error-codes';
import { describeFailure } from './failure';
import { copyOutputs, predictionRunner, setStatus, workflowActivities } from './prediction-run';

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
  const acts = workflowActivities();
  const runPrediction = predictionRunner(acts);
  let predictionId: string | undefined;

  // Every way out settles the reservation (a no-op if it was never taken).
  try {
    await acts.db.reservePromptImages({ promptId: p.promptId, versionId: p.versionId, images: p.numOutputs });
    const done = await runPrediction(p, async (created) => {
      predictionId = created.id;
      setStatus('running');
      await acts.db.markPromptRunning({ promptId: p.promptId, predictionId: created.id });
    });
    const images = await copyOutputs(acts, `prompts/${p.promptId}`, done, p.numOutputs);
    await acts.db.completePrompt({ promptId: p.promptId, versionId: p.versionId, images });
    setStatus('succeeded');
    return { images: images.length };
  } catch (err) {
    const canceled = isCancellation(err);
    const failure = canceled ? { code: ErrorCode.predictionCanceled, message: 'Canceled by request' } : describeFailure(err);
    await CancellationScope.nonCancellable(async () => {
      if (canceled && predictionId) await acts.calls.cancelPrediction(predictionId).catch(() => undefined);
      await acts.db.finishPrompt({ promptId: p.promptId, versionId: p.versionId, status: canceled ? 'canceled' : 'failed', ...failure });
    });
    setStatus(canceled ? 'canceled' : 'failed');
    if (canceled) throw err;
    throw ApplicationFailure.nonRetryable(failure.message, failure.code);
  }
}
