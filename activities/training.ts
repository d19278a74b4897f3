import { Readable } from 'node:stream';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Db } from '../src/db/client';
import { ErrorCode } from '../src/error-codes';
import { recordFinished } from '../src/metrics/business';
import { prepareTrainingImage, zipImagesStream } from '../src/images/prepare';
import { progressFromLogs, snapshot, type PredictionSnapshot } from '../src/provider/prediction';
import type { Provider } from '../src/provider/replicate';
import { grantImages } from '../src/quota/ledger';
import type { Storage } from '../src/storage/s3';
import { withProviderFailures } from './failures';

const FINISHED = ['succeeded', 'failed', 'canceled'] as const;
type VersionStatus = 'queued' | 'validating' | 'uploading' | 'training' | 'succeeded' | 'failed' | 'canceled';

export interface TrainingSnapshot extends PredictionSnapshot {
  progress: number | null;
}

/** Training steps: database, bucket and provider. Each is idempotent under retry. */
export function createTrainingActivities({ db, storage, provider }: { db: Db; storage: Storage; provider: Provider }) {
  return {
    /** Moves a model's status forward; a finished model is never changed again. */
    async updateVersion(req: {
      versionId: string;
      status?: VersionStatus;
      progress?: number;
      zipKey?: string;
      providerTrainingId?: string;
      error?: { code: string; message: string };
    }): Promise<void> {
      await db.modelVersion.updateMany({
        where: { id: req.versionId, status: { notIn: [...FINISHED] } },
        data: {
          ...(req.status ? { status: req.status } : {}),
          ...(req.status === 'validating' ? { startedAt: new Date() } : {}),
          ...(req.progress === undefined ? {} : { progress: req.progress }),
          ...(req.zipKey ? { zipKey: req.zipKey } : {}),
          ...(req.providerTrainingId ? { providerTrainingId: req.providerTrainingId } : {}),
          ...(req.error ? { errorCode: req.error.code, errorMessage: req.error.message } : {}),
        },
      });
    },

    /**
     * Reads the uploaded photos from our bucket, orients them and strips their metadata
     * (location included), and streams them as one zip back into the bucket: one image in
     * flight at a time, no whole-archive buffer, a deterministic key.
     */
    async buildTrainingZip(req: { versionId: string; uploadKeys: string[] }): Promise<{ key: string; bytes: number }> {
      const key = `versions/${req.versionId}/training-images.zip`;
      const zip = zipImagesStream(
        req.uploadKeys.map((uploadKey, index) => ({
          name: `${String(index + 1).padStart(4, '0')}.jpg`,
          source: () => {
            heartbeat({ image: index });
            return prepareTrainingImage(lazyObjectStream(storage, uploadKey));
          },
        })),
      );
      const stored = await storage.putStream(key, Readable.from(zip.stream as AsyncIterable<Buffer>), 'application/zip');
      await zip.done;
      return { key, bytes: stored.sizeBytes };
    },

    /** Creates the user's destination model on the provider unless it exists. */
    async ensureDestinationModel(req: { owner: string; name: string; description: string }): Promise<void> {
      await withProviderFailures(async () => {
        if (await provider.getModel(req.owner, req.name)) return;
        await provider.createModel(req.owner, req.name, { description: req.description });
      });
    },

    /** Starts the training; the trainer downloads the zip through a presigned URL (the bucket stays private). */
    async createTraining(req: {
      trainer: string;
      destination: string;
      zipKey: string;
      triggerWord: string;
      steps: number;
      extraInput?: Record<string, unknown>;
      webhookUrl: string | null;
    }): Promise<TrainingSnapshot> {
      const imagesUrl = await storage.presignGet(req.zipKey, { ttlSeconds: 6 * 3600 });
      const training = await withProviderFailures(() =>
        provider.createTraining({
          trainer: req.trainer,
          destination: req.destination,
          input: { ...req.extraInput, input_images: imagesUrl, trigger_word: req.triggerWord, steps: req.steps },
          webhook: req.webhookUrl ?? undefined,
        }),
      );
      return { ...snapshot(training), progress: progressFromLogs(training.logs) };
    },

    async getTraining(id: string): Promise<TrainingSnapshot> {
      const training = await withProviderFailures(() => provider.getTraining(id));
      return { ...snapshot(training), progress: progressFromLogs(training.logs) };
    },

    async cancelTraining(id: string): Promise<void> {
      await withProviderFailures(() => provider.cancelTraining(id));
    },

    /** Records the trained version and grants the base plan's images, in one transaction. */
    async completeTraining(req: { versionId: string; providerModel: string; providerVersion: string }): Promise<void> {
      await db.$transaction(async (tx) => {
        const version = await tx.modelVersion.findUnique({
          where: { id: req.versionId },
          select: { status: true, paymentId: true, payment: { select: { plan: { select: { images: true } } } } },
        });
        if (!version) throw ApplicationFailure.nonRetryable(`Model ${req.versionId} does not exist`, ErrorCode.jobNotFound);
        if (version.status === 'succeeded') return;
        await tx.modelVersion.update({
          where: { id: req.versionId },
          data: { status: 'succeeded', progress: 100, providerModel: req.providerModel, providerVersion: req.providerVersion, trainedAt: new Date() },
        });
        recordFinished('training', 'succeeded');
        await grantImages(tx, { versionId: req.versionId, paymentId: version.paymentId, images: version.payment.plan.images });
      });
    },

    /** Records a failed or canceled training. */
    async finishTraining(req: { versionId: string; status: 'failed' | 'canceled'; code: string; message: string }): Promise<void> {
      const { count } = await db.modelVersion.updateMany({
        where: { id: req.versionId, status: { notIn: [...FINISHED] } },
        data: { status: req.status, errorCode: req.code, errorMessage: req.message },
      });
      if (count > 0) recordFinished('training', req.status);
    },
  };
}

/** An S3 object as a stream that opens only when first read. */
function lazyObjectStream(storage: Storage, key: string): Readable {
  async function* chunks() {
    const object = await storage.getStream(key);
    if (!object) throw ApplicationFailure.nonRetryable(`Uploaded photo ${key} is missing from the bucket`, ErrorCode.outputMissing);
    yield* object.body;
  }
  return Readable.from(chunks());
}
