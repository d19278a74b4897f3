import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import type { ReceivedUpload } from '../shared/received-file';
import { preparedPathOf, writePreparedTrainingImage } from '../images/prepare';
import { validateTrainingImages, type FileIssues, type ImageIssue, type ValidImage } from '../images/validate';
import type { FaceInspector } from '../images/faces/pool';
import type { Storage } from '../storage/s3';
import { providerWebhookUrl } from '../provider/webhook-url';
import { workflowIds } from '../temporal/names';
import { startWorkflowFor, type StartHooks } from '../temporal/start-workflow';
import type { trainModel } from '../../workflows/train-model';
import { webhookFormColumns } from '../webhooks-out/request';
import { inspectTrainingPhotos, photosRefused, type PhotoInspection } from './photo-inspection';

export interface TrainingDeps {
  config: Config;
  db: Db;
  temporal: Client;
  storage: Storage;
  faceInspector: FaceInspector;
}

const TRIGGER_WORD = /^[A-Za-z][A-Za-z0-9_]{1,31}$/;
const DEFAULT_TRIGGER_WORD = 'TOK';
const UPLOAD_CONCURRENCY = 4;

/** The form the training upload sends: its photos (on disk, see src/http/training-upload.ts) and its fields. */
export type TrainingPhotos = Pick<ReceivedUpload, 'files' | 'fields'>;

/**
 * POST /versions/train/{payment_id}, once the payment was found trainable (trainablePayment)
 * and the photos received: checks every photo (all problems at once, nothing consumed), stores
 * them, and starts TrainModel. The workflow id comes from the payment, so the Temporal server
 * refuses a second training while one runs or after one succeeded; after a failure the payment
 * may train again.
 */
export async function startTraining(
  deps: TrainingDeps,
  req: { userId: string; payment: TrainablePayment; upload: TrainingPhotos; requestId?: string },
): Promise<{ versionId: string; status: 'queued' }> {
  const { payment, upload } = req;
  const triggerWord = parseTriggerWord(upload.fields.trigger_word);
  const webhook = webhookFormColumns(upload.fields, deps.config);
  const checked = await checkPhotos(deps, req.userId, upload.files);

  const versionId = randomUUID();
  const workflowId = workflowIds.trainModel(payment.id);
  const uploadPrefix = `versions/${versionId}/uploads`;
  const uploadKeys = await storePhotos(deps.storage, uploadPrefix, checked);
  await deps.db.modelVersion.create({
    data: {
      id: versionId,
      userId: req.userId,
      paymentId: payment.id,
      planId: payment.planId,
      triggerWord,
      imageCount: uploadKeys.length,
      workflowId,
      uploadPrefix,
      requestId: req.requestId ?? null,
      ...webhook,
    },
  });
  await startWorkflow(
    deps,
    { versionId, workflowId, userId: req.userId, paymentId: payment.id, uploadKeys, triggerWord, requestId: req.requestId },
    {
      undo: async () => {
        await deps.db.modelVersion.delete({ where: { id: versionId } });
        await deps.storage.remove(uploadKeys).catch(() => undefined);
      },
      conflict: () => alreadyTrainingError(deps.db, payment.id),
      unavailable: 'The training could not be queued; nothing was started. Try again shortly.',
    },
  );
  return { versionId, status: 'queued' };
}

/** POST /photos/inspect: the training upload's checks, faces included, answered; nothing is stored or started. */
export async function inspectUploadedPhotos(deps: TrainingDeps, req: { userId: string; upload: TrainingPhotos }): Promise<PhotoInspection> {
  const { validation: _validation, ...report } = await inspectTrainingPhotos(deps, req.userId, req.upload.files);
  return { ...report, training_refuses_errors: deps.config.faceCheck.training === 'enforce' };
}

/**
 * The header-first checks; with FACE_CHECK_TRAINING=enforce also the face checks (the same
 * inspection as POST /photos/inspect), refusing a set with any error and listing every finding.
 * Each photo that passes gets its prepared JPEG beside it (preparedPathOf), decoded once: in the
 * inspection's own decode, or here when the inspection is off.
 */
async function checkPhotos(deps: TrainingDeps, userId: string, files: TrainingPhotos['files']): Promise<ValidImage[]> {
  if (deps.config.faceCheck.training === 'enforce') {
    const report = await inspectTrainingPhotos(deps, userId, files, { prepare: true });
    if (!report.ok || !report.validation.ok) throw photosRefused(report);
    return report.validation.images;
  }
  const verdict = await validateTrainingImages(files, {
    minSide: deps.config.training.minSidePx,
    maxFileBytes: deps.config.training.maxFileBytes,
    maxTotalBytes: deps.config.training.maxTotalBytes,
    minImages: deps.config.training.minImages,
    maxImages: deps.config.training.maxImages,
  });
  if (!verdict.ok) throw imagesRefused(verdict.files, verdict.problems);
  // One photo at a time: a 12 MP photo decodes to tens of MB, and the API serves everyone else
  // meanwhile. A photo whose headers were fine can still fail to decode (damaged inside).
  const undecodable: FileIssues[] = [];
  for (const image of verdict.images) {
    try {
      await writePreparedTrainingImage(image.path);
    } catch {
      const message = `${image.filename} could not be decoded; it may be damaged. Export it again and re-upload it.`;
      undecodable.push({ filename: image.filename, issues: [{ code: 'unreadable', message }] });
    }
  }
  if (undecodable.length > 0) throw imagesRefused(undecodable, []);
  return verdict.images;
}

/** 422 invalid_images: every photo's problems and the set's, in the header-first shape. */
function imagesRefused(files: FileIssues[], problems: ImageIssue[]): AppError {
  const count = files.length;
  return new AppError(
    422,
    ErrorCode.invalidImages,
    [count ? `${count} photo${count === 1 ? ' has' : 's have'} problems` : '', ...problems.map((p) => p.message)].filter(Boolean).join('; ') +
      '. Nothing was charged; fix them and upload again.',
    { files, problems },
  );
}

export type TrainablePayment = Awaited<ReturnType<typeof trainablePayment>>;

/** The caller's paid base-plan payment, or why it cannot train: checked before the photos are read. */
export async function trainablePayment(db: Db, userId: string, paymentId: string) {
  const payment = await db.payment.findFirst({ where: { id: paymentId, userId }, include: { plan: true } });
  if (!payment) throw AppError.notFound('Payment');
  if (!payment.plan.isInit) {
    throw new AppError(422, ErrorCode.planNotTrainable, `Plan "${payment.plan.name}" adds images to a trained model; training needs a base plan`);
  }
  if (payment.status !== 'paid') {
    throw AppError.conflict(ErrorCode.paymentNotPaid, `This payment is ${payment.status}; complete the checkout before training`, { status: payment.status });
  }
  // Money Stripe gave back (a refund) or holds (an open or lost dispute) bought no training.
  if (payment.refundedCents > 0 || payment.disputedCents > 0) {
    const what = payment.refundedCents > 0 ? 'refunded' : 'disputed';
    throw AppError.conflict(ErrorCode.paymentRefunded, `This payment was ${what}; it cannot start a training. Buy a new plan to train`, {
      refunded_cents: payment.refundedCents,
      disputed_cents: payment.disputedCents,
    });
  }
  const busy = await db.modelVersion.findFirst({ where: { paymentId, status: { notIn: ['failed', 'canceled'] } }, select: { id: true } });
  if (busy) throw await alreadyTrainingError(db, paymentId);
  return payment;
}

async function alreadyTrainingError(db: Db, paymentId: string): Promise<AppError> {
  const version = await db.modelVersion.findFirst({
    where: { paymentId, status: { notIn: ['failed', 'canceled'] } },
    orderBy: { createdAt: 'desc' },
    select: { id: true, status: true },
  });
  if (version?.status === 'succeeded') {
    return AppError.conflict(ErrorCode.paymentAlreadyUsed, 'This payment already trained a model; buy a new plan to train another', { version_id: version.id });
  }
  return AppError.conflict(ErrorCode.trainingInProgress, 'A training for this payment is already running', version ? { version_id: version.id } : undefined);
}

function parseTriggerWord(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') return DEFAULT_TRIGGER_WORD;
  const word = raw.trim();
  if (!TRIGGER_WORD.test(word)) {
    throw AppError.validation('trigger_word must be 2-32 letters, digits or underscores, starting with a letter', { field: 'trigger_word' });
  }
  return word;
}

/**
 * Stores each checked photo's prepared JPEG (src/images/prepare.ts), a few at a time: the only
 * form the photo is stored in; the training only packs these into its zip.
 */
async function storePhotos(storage: Storage, prefix: string, images: ValidImage[]): Promise<string[]> {
  const keys = images.map((_img, i) => `${prefix}/${String(i + 1).padStart(4, '0')}.jpg`);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const img = images[i]!;
      await storage.putStream(keys[i]!, createReadStream(preparedPathOf(img.path)), 'image/jpeg');
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, images.length) }, worker));
  return keys;
}

async function startWorkflow(
  deps: TrainingDeps,
  v: { versionId: string; workflowId: string; userId: string; paymentId: string; uploadKeys: string[]; triggerWord: string; requestId?: string },
  hooks: StartHooks,
): Promise<void> {
  const { config } = deps;
  await startWorkflowFor<typeof trainModel>(
    { temporal: deps.temporal, taskQueue: config.temporal.taskQueue },
    {
      workflowType: 'trainModel',
      workflowId: v.workflowId,
      reusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
      args: [
        {
          versionId: v.versionId,
          uploadKeys: v.uploadKeys,
          photosPrepared: true,
          triggerWord: v.triggerWord,
          trainer: { model: config.training.trainerModel, destinationOwner: config.training.destinationOwner, steps: config.training.steps },
          webhookUrl: providerWebhookUrl(config.http.publicBaseUrl, v.workflowId),
          pollIntervalMs: config.jobs.pollIntervalMs,
          timeoutMs: config.training.timeoutMs,
        },
      ],
      attributes: { userId: v.userId, kind: 'training', versionId: v.versionId, paymentId: v.paymentId, requestId: v.requestId },
    },
    hooks,
  );
}
