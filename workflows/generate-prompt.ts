import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { deadlineOf } from './deadline';
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
  /** When the prompt must be final (epoch ms; Cancel-After or `deadline`); absent: no deadline. */
  deadlineMs?: number;
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
  // A deadline that passes before the provider's run finished cancels the work (patch prompt-deadline).
  const deadline = deadlineOf(p.deadlineMs, () => patched('prompt-deadline'));

  // Every way out settles the reservation (a no-op if it was never taken).
  try {
    return await deadline.scope.run(async () => {
      await acts.db.reservePromptImages({ promptId: p.promptId, versionId: p.versionId, images: p.numOutputs });
      const done = await runPrediction(p, async (created) => {
        predictionId = created.id;
        setStatus('running');
        await acts.db.markPromptRunning({ promptId: p.promptId, predictionId: created.id });
      });
      deadline.providerDone = true;
      const images = await copyOutputs(acts, `prompts/${p.promptId}`, done, p.numOutputs);
      await acts.db.completePrompt({ promptId: p.promptId, versionId: p.versionId, images });
      setStatus('succeeded');
      return { images: images.length };
    });
  } catch (err) {
    if (deadline.expired && isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (predictionId) await acts.calls.cancelPrediction(predictionId).catch(() => undefined);
        setStatus(await acts.db.endPromptAtDeadline({ promptId: p.promptId, versionId: p.versionId }));
      });
      throw ApplicationFailure.nonRetryable('The prompt was not final by its deadline', ErrorCode.deadlineExceeded);
    }
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
