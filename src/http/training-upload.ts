import type { Request } from 'express';
import type { Config } from '../config';
import { MultipartError, receiveMultipart } from './multipart';
import type { TrainingPhotos } from '../training/service';

/**
 * Receives the training upload's multipart form (the photos to a temp directory, the fields),
 * runs `use` on it and removes the files whatever happens. A malformed or oversized form is a
 * 4xx with its stable code (MultipartError.toAppError) before anything else runs.
 */
export async function withTrainingPhotos<T>(config: Config, req: Request, use: (upload: TrainingPhotos) => Promise<T>): Promise<T> {
  let upload;
  try {
    upload = await receiveMultipart(req, {
      fileFields: ['images'],
      limits: {
        // Room above the maximum so "too many images" is reported with everything else.
        maxFiles: config.training.maxImages * 2,
        maxFileBytes: config.training.maxFileBytes,
        maxTotalBytes: config.training.maxTotalBytes,
        maxFields: 5,
        maxFieldBytes: 1024,
      },
    });
  } catch (err) {
    if (!(err instanceof MultipartError)) throw err;
    throw err.toAppError();
  }
  try {
    return await use(upload);
  } finally {
    await upload.cleanup();
  }
}
