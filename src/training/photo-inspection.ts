import type { Config } from '../config';
import { AppError, ErrorCode } from '../errors';
import { inspectPhotoSet, type SetReport } from '../images/faces/inspect-set';
import { QueueFullError, type FaceInspector } from '../images/faces/pool';
import type { ReceivedFile } from '../shared/received-file';

export interface InspectionDeps {
  config: Config;
  faceInspector: FaceInspector;
}

/** Retry hint when the inspection queue is full: a full set takes a few seconds. */
const RETRY_AFTER_SECONDS = '5';

/**
 * What POST /photos/inspect answers: the report without the header-first verdict, and whether the
 * training upload refuses a set with an error here (FACE_CHECK_TRAINING=enforce).
 */
export type PhotoInspection = Omit<SetReport, 'validation'> & { training_refuses_errors: boolean };

/**
 * Header checks and face checks of received photos, for one account's turn on the inspection
 * threads; with `prepare`, each photo inspected also gets its prepared JPEG (preparedPathOf).
 */
export async function inspectTrainingPhotos(deps: InspectionDeps, userId: string, files: ReceivedFile[], opts: { prepare?: boolean } = {}): Promise<SetReport> {
  const { training } = deps.config;
  try {
    return await inspectPhotoSet(
      {
        inspector: deps.faceInspector,
        settings: deps.config.faceCheck,
        rules: {
          minSide: training.minSidePx,
          maxFileBytes: training.maxFileBytes,
          maxTotalBytes: training.maxTotalBytes,
          minImages: training.minImages,
          maxImages: training.maxImages,
        },
      },
      userId,
      files,
      opts,
    );
  } catch (err) {
    if (!(err instanceof QueueFullError)) throw err;
    if (err.scope === 'account') {
      throw new AppError(429, ErrorCode.rateLimited, 'Your earlier photos are still being inspected; send these once they are done', { reason: 'photo_inspection' }, { 'Retry-After': RETRY_AFTER_SECONDS });
    }
    throw new AppError(503, ErrorCode.serviceUnavailable, 'Photo inspection is busy; try again in a few seconds', { component: 'photo_inspection' }, { 'Retry-After': RETRY_AFTER_SECONDS });
  }
}

/** The 422 a training upload gets when its photos have an error: the header-first shape, and every finding. */
export function photosRefused(report: SetReport): AppError {
  const errors = report.findings.filter((f) => f.severity === 'error');
  const photos = new Set(errors.filter((f) => f.index !== null).map((f) => f.index)).size;
  const setLevel = errors.filter((f) => f.index === null).map((f) => f.message);
  const message =
    [photos ? `${photos} photo${photos === 1 ? ' has' : 's have'} problems` : '', ...setLevel].filter(Boolean).join('; ') +
    '. Nothing was charged; fix them and upload again.';
  const { files, problems } = report.validation.ok ? { files: [], problems: [] } : report.validation;
  return new AppError(422, ErrorCode.invalidImages, message, { files, problems, findings: report.findings });
}
