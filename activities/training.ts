import { Readable } from 'node:stream';
import { activityInfo, ApplicationFailure, heartbeat } from '@temporalio/activity';
import { ErrorCode } from '../src/error-codes';
import { recordFinished } from '../src/metrics/business';
import { prepareTrainingImage } from '../src/images/prepare';
import { zipImagesStream } from '../src/images/training-zip';
import { progressFromLogs, snapshot, type PredictionSnapshot } from '../src/provider/prediction';
import type { Provider } from '../src/provider/replicate';
import { grantImages } from '../src/quota/ledger';
import type { Storage } from '../src/storage/s3';
import { changeWithEvents, type EventDeps } from './events';
import { withProviderFailures } from './failures';
import { createOnce, runWebhook } from './provider';

const FINISHED = ['succeeded', 'failed', 'canceled'] as const;
type VersionStatus = 'queued' | 'validating' | 'uploading' | 'training' | 'succeeded' | 'failed' | 'canceled';

export interface TrainingSnapshot extends PredictionSnapshot {
  progress: number | null;
}

/** Training steps: database, bucket and provider. Each is idempotent under retry. */
export function createTrainingActivities(deps: EventDeps & { storage: Storage; provider: Provider }) {
  const { storage, provider } = deps;
  const change = changeWithEvents(deps);
  const version = (versionId: string) => ({ resourceType: 'version' as const, resourceId: versionId });
  return {
    /**
     * Moves a model's status forward; a finished model is never changed again. A new status
     * or a new progress value is an event.
     */
    async updateVersion(req: {
      versionId: string;
      status?: VersionStatus;
      progress?: number;
      zipKey?: string;
      providerTrainingId?: string;
      error?: { code: string; message: string };
    }): Promise<void> {
      await change(version(req.versionId), async (tx, emit) => {
        const before = await tx.modelVersion.findUnique({ where: { id: req.versionId }, select: { status: true, progress: true } });
        const { count } = await tx.modelVersion.updateMany({
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
        if (count === 0 || !before) return;
        if (req.status && req.status !== before.status) await emit('status', { status: req.status });
        if (req.progress !== undefined && req.progress !== before.progress) await emit('progress', { progress: req.progress });
      });
    },

    /**
     * Streams the training photos as one zip into the bucket, under a deterministic key, one
     * image in flight at a time. Photos the API stored `prepared` (oriented, bounded, metadata
     * and location stripped, JPEG: src/images/prepare.ts, in the same decode as their inspection)
     * are packed as they are: nothing is decoded or written here but the zip.
     *
     * Photos stored as uploaded (trainings started before the API prepared them) are prepared
     * here, in two passes so a retry resumes instead of starting over: each prepared photo is
     * stored on its own, then the zip is streamed from those. The heartbeat carries how far it
     * got (`ZipProgress`), so a worker that dies at photo 25 of 30 costs the next attempt five
     * photos, not thirty.
     */
    async buildTrainingZip(req: { versionId: string; uploadKeys: string[]; prepared?: boolean }): Promise<{ key: string; bytes: number }> {
      const key = `versions/${req.versionId}/training-images.zip`;
      const resumed = (activityInfo().heartbeatDetails as ZipProgress | undefined) ?? { prepared: 0 };
      if (resumed.zipBytes !== undefined && (await storage.exists(key))) return { key, bytes: resumed.zipBytes };
      const pack = async (source: (index: number) => NodeJS.ReadableStream) => {
        const prepared = req.uploadKeys.length;
        const zip = zipImagesStream(
          req.uploadKeys.map((_uploadKey, index) => ({
            name: entryName(index),
            source: () => {
              heartbeat({ prepared } satisfies ZipProgress);
              return source(index);
            },
          })),
        );
        const stored = await storage.putStream(key, Readable.from(zip.stream as AsyncIterable<Buffer>), 'application/zip');
        await zip.done;
        heartbeat({ prepared, zipBytes: stored.sizeBytes } satisfies ZipProgress);
        return { key, bytes: stored.sizeBytes };
      };
      if (req.prepared) return pack((index) => lazyObjectStream(storage, req.uploadKeys[index]!));

      const preparedKey = (index: number) => `versions/${req.versionId}/prepared/${entryName(index)}`;
      for (let index = resumed.prepared; index < req.uploadKeys.length; index++) {
        heartbeat({ prepared: index } satisfies ZipProgress);
        const image = prepareTrainingImage(lazyObjectStream(storage, req.uploadKeys[index]!));
        await storage.putStream(preparedKey(index), Readable.from(image as AsyncIterable<Buffer>), 'image/jpeg');
      }
      // A prepared photo that went missing (the bucket was cleaned up) is prepared again.
      const zipped = await pack((index) => lazyObjectStream(storage, preparedKey(index), () => prepareTrainingImage(lazyObjectStream(storage, req.uploadKeys[index]!))));
      await storage.remove(req.uploadKeys.map((_k, index) => preparedKey(index)));
      return zipped;
    },

    /** Creates the user's destination model on the provider unless it exists. */
    async ensureDestinationModel(req: { owner: string; name: string; description: string }): Promise<void> {
      await withProviderFailures(async () => {
        if (await provider.getModel(req.owner, req.name)) return;
        await provider.createModel(req.owner, req.name, { description: req.description });
      });
    },

    /**
     * Starts the training; the trainer downloads the zip through a presigned URL (the bucket
     * stays private). The URL is signed at the activity's first scheduling time, so every
     * attempt sends the same input and a retry adopts the training an earlier attempt started.
     */
    async createTraining(req: {
      trainer: string;
      destination: string;
      zipKey: string;
      triggerWord: string;
      steps: number;
      extraInput?: Record<string, unknown>;
      webhookUrl: string | null;
    }): Promise<TrainingSnapshot> {
      const imagesUrl = await storage.presignGet(req.zipKey, { ttlSeconds: 6 * 3600, signedAt: new Date(activityInfo().scheduledTimestampMs) });
      const input = { ...req.extraInput, input_images: imagesUrl, trigger_word: req.triggerWord, steps: req.steps };
      const webhook = runWebhook(req.webhookUrl);
      const training = await createOnce(
        webhook,
        () => provider.createTraining({ trainer: req.trainer, destination: req.destination, input, webhook }),
        (lookup) => provider.findTraining({ trainer: req.trainer, input, ...lookup }),
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

    /**
     * Records the trained version and grants the base plan's images, in one transaction. The
     * move to `succeeded` is claimed in one conditional update, so a training canceled or
     * failed in the meantime is never turned into a success.
     */
    async completeTraining(req: { versionId: string; providerModel: string; providerVersion: string }): Promise<void> {
      await change(version(req.versionId), async (tx, emit) => {
        const claimed = await tx.modelVersion.updateMany({
          where: { id: req.versionId, status: { notIn: [...FINISHED] } },
          data: { status: 'succeeded', progress: 100, providerModel: req.providerModel, providerVersion: req.providerVersion, trainedAt: new Date() },
        });
        if (claimed.count === 0) {
          if (!(await tx.modelVersion.findUnique({ where: { id: req.versionId }, select: { id: true } }))) {
            throw ApplicationFailure.nonRetryable(`Model ${req.versionId} does not exist`, ErrorCode.versionNotFound);
          }
          return;
        }
        const version = await tx.modelVersion.findUniqueOrThrow({
          where: { id: req.versionId },
          select: { paymentId: true, payment: { select: { plan: { select: { images: true } } } } },
        });
        await emit('completed', { status: 'succeeded', error: null });
        recordFinished('training', 'succeeded');
        await grantImages(tx, { versionId: req.versionId, paymentId: version.paymentId, images: version.payment.plan.images });
      });
    },

    /** Records a failed or canceled training. */
    async finishTraining(req: { versionId: string; status: 'failed' | 'canceled'; code: string; message: string }): Promise<void> {
      await change(version(req.versionId), async (tx, emit) => {
        const { count } = await tx.modelVersion.updateMany({
          where: { id: req.versionId, status: { notIn: [...FINISHED] } },
          data: { status: req.status, errorCode: req.code, errorMessage: req.message },
        });
        if (count === 0) return;
        await emit('completed', { status: req.status, error: { code: req.code, message: req.message } });
        recordFinished('training', req.status);
      });
    },
  };
}

/** How far buildTrainingZip got: photos prepared, and the zip's size once it is stored. */
interface ZipProgress {
  prepared: number;
  zipBytes?: number;
}

/** Zip entries are named 0001.jpg, 0002.jpg, … in upload order. */
const entryName = (index: number) => `${String(index + 1).padStart(4, '0')}.jpg`;

/**
 * An S3 object as a stream that opens only when first read. A missing object is read from
 * `fallback` if there is one, else it fails the activity for good: an uploaded photo that is
 * gone cannot come back.
 */
function lazyObjectStream(storage: Storage, key: string, fallback?: () => NodeJS.ReadableStream): Readable {
  async function* chunks() {
    const object = await storage.getStream(key);
    if (object) yield* object.body;
    else if (fallback) yield* fallback() as AsyncIterable<Buffer>;
    else throw ApplicationFailure.nonRetryable(`Uploaded photo ${key} is missing from the bucket`, ErrorCode.trainingPhotoMissing);
  }
  return Readable.from(chunks());
}
