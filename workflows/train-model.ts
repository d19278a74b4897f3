import { ApplicationFailure, CancellationScope, isCancellation } from '@temporalio/workflow';
import { ErrorCode } from '../src/error-codes';
import { errorText, trainedVersion } from '../src/provider/prediction';
import { describeFailure } from './failure';
import { setStatus, workflowActivities } from './prediction-run';
import { trackPredictions } from './prediction-wait';

export interface TrainModelInput {
  versionId: string;
  /** The photos as uploaded (already checked by the API), in order. */
  uploadKeys: string[];
  /**
   * The API stored the photos as the trainer gets them (prepared in the upload's one decode):
   * the zip only packs them. Absent in trainings started before it did.
   */
  photosPrepared?: boolean;
  triggerWord: string;
  trainer: { model: string; destinationOwner: string; steps: number };
  webhookUrl: string | null;
  pollIntervalMs: number;
  timeoutMs: number;
}

export interface TrainModelResult {
  providerModel: string;
  providerVersion: string;
}

/**
 * Trains a user's personal model: pack the photos (oriented, metadata stripped) into
 * one zip in our bucket, make sure the destination model exists, start the training with
 * a presigned URL of the zip, wait (webhook signal, polling fallback that records
 * progress), record the trained version and grant the plan's images. Failure records a
 * clear error; cancellation also cancels the provider's training.
 */
export async function trainModel(input: TrainModelInput): Promise<TrainModelResult> {
  const { db, images, create, calls } = workflowActivities();
  const trainings = trackPredictions({ kind: 'training', cancel: calls.cancelStrayRun });
  const { versionId } = input;
  const destination = { owner: input.trainer.destinationOwner, name: `model-${versionId}` };
  let trainingId: string | undefined;

  try {
    setStatus('validating');
    await db.updateVersion({ versionId, status: 'validating' });
    const zip = await images.buildTrainingZip({ versionId, uploadKeys: input.uploadKeys, prepared: input.photosPrepared === true });

    setStatus('uploading');
    await db.updateVersion({ versionId, status: 'uploading', zipKey: zip.key });
    await calls.ensureDestinationModel({ ...destination, description: `Personal model ${versionId}` });
    const created = await create.createTraining({
      trainer: input.trainer.model,
      destination: `${destination.owner}/${destination.name}`,
      zipKey: zip.key,
      triggerWord: input.triggerWord,
      steps: input.trainer.steps,
      webhookUrl: input.webhookUrl,
    });
    trainingId = created.id;
    trainings.record(created);

    setStatus('training');
    await db.updateVersion({ versionId, status: 'training', providerTrainingId: created.id, progress: created.progress ?? 0 });
    let progress = created.progress ?? 0;
    const done = await trainings.waitFor(created.id, {
      pollIntervalMs: input.pollIntervalMs,
      timeoutMs: input.timeoutMs,
      cancel: calls.cancelTraining,
      poll: async (id) => {
        const polled = await calls.getTraining(id);
        if (polled.progress !== null && polled.progress !== progress) {
          progress = polled.progress;
          await db.updateVersion({ versionId, progress });
        }
        return polled;
      },
    });

    if (done.status === 'failed') throw ApplicationFailure.nonRetryable(errorText(done.error), ErrorCode.trainingFailed);
    if (done.status === 'canceled') throw ApplicationFailure.nonRetryable('The training was canceled at the provider', ErrorCode.predictionCanceled);
    const trained = trainedVersion(done.output);
    if (!trained) throw ApplicationFailure.nonRetryable('The training finished without a model version', ErrorCode.outputMissing);

    await db.completeTraining({ versionId, providerModel: trained.model, providerVersion: trained.version });
    setStatus('succeeded');
    return { providerModel: trained.model, providerVersion: trained.version };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        if (trainingId) await calls.cancelTraining(trainingId).catch(() => undefined);
        await db.finishTraining({ versionId, status: 'canceled', code: ErrorCode.predictionCanceled, message: 'Canceled by request' });
        setStatus('canceled');
      });
      throw err;
    }
    const failure = describeFailure(err);
    await CancellationScope.nonCancellable(() => db.finishTraining({ versionId, status: 'failed', ...failure }));
    setStatus('failed');
    throw ApplicationFailure.nonRetryable(failure.message, failure.code);
  }
}
