import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { deadlineOf, type Deadline } from './deadline';
import { ErrorCode } from '../src/error-codes';
import { describeFailure } from './failure';
import { copyOutputs, predictionRunner, runAndStore, setStatus, workflowActivities, type WorkflowActivities } from './prediction-run';
import { trackPredictions } from './prediction-wait';

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
 *
 * As few engine steps as the guarantees allow (runAndStore): the create reserves the images and
 * records the prompt running, one activity stores and settles them, and the state is the
 * workflow's own status (no JobStatus upserts). Versioned by workflow type, so a new run records
 * no patch marker: the API starts this type; runs of `generatePrompt` replay on their own code.
 */
export async function generatePromptV2(p: GeneratePromptInput): Promise<{ images: number }> {
  const acts = workflowActivities();
  // Created before the first await, so no early webhook signal is missed.
  const predictions = trackPredictions({ kind: 'prediction', cancel: acts.calls.cancelStrayRun }, true);
  const deadline = deadlineOf(p.deadlineMs, () => true);
  let predictionId: string | undefined;
  const ids = { promptId: p.promptId, versionId: p.versionId };
  try {
    return await deadline.scope.run(async () => {
      const run = { ...p, owner: { prompt: { ...ids, images: p.numOutputs } }, outputsOwner: { prompt: ids }, keyPrefix: `prompts/${p.promptId}`, maxOutputs: p.numOutputs };
      const { outputs } = await runAndStore(acts, predictions, deadline, run, (id) => (predictionId = id));
      return { images: outputs };
    });
  } catch (err) {
    return endUnfinished(err, p, acts, deadline, predictionId, () => undefined);
  }
}

/**
 * The prompt's workflow type before `generatePromptV2`, kept until no run of it is left. Runs that
 * took the `lean-prompt` patch ran what is now generatePromptV2, behind a marker; prompts started
 * before it replay on `generatePromptBefore20261207`. Nothing starts it any more.
 */
export async function generatePrompt(p: GeneratePromptInput): Promise<{ images: number }> {
  if (patched('lean-prompt')) return generatePromptV2(p);
  return generatePromptBefore20261207(p);
}

/**
 * A prompt that did not succeed: its deadline ends it (aborted or canceled), a cancel or a
 * failure records it; every way out settles the reservation (a no-op if it was never taken).
 */
async function endUnfinished(
  err: unknown,
  p: GeneratePromptInput,
  acts: WorkflowActivities,
  deadline: Deadline,
  predictionId: string | undefined,
  setStatus: (status: string) => void,
): Promise<never> {
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

/** The prompt as it ran before `lean-prompt`: kept until no prompt started before it is running. */
async function generatePromptBefore20261207(p: GeneratePromptInput): Promise<{ images: number }> {
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
        await acts.db.markPromptRunning({ promptId: p.promptId, versionId: p.versionId, predictionId: created.id });
      });
      deadline.providerDone = true;
      const images = await copyOutputs(acts, `prompts/${p.promptId}`, done, p.numOutputs);
      await acts.db.completePrompt({ promptId: p.promptId, versionId: p.versionId, images });
      setStatus('succeeded');
      return { images: images.length };
    });
  } catch (err) {
    return endUnfinished(err, p, acts, deadline, predictionId, setStatus);
  }
}
