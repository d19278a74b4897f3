import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../src/db/client';
import { ErrorCode } from '../src/error-codes';
import type { Storage } from '../src/storage/s3';

/** Job input files: our bucket is private, so the provider gets a time-limited URL of the upload. */
export function createInputActivities({ db, storage }: { db: Db; storage: Storage }) {
  return {
    async presignUpload(req: { uploadId: string }): Promise<string> {
      const upload = await db.upload.findUnique({ where: { id: req.uploadId }, select: { s3Key: true } });
      if (!upload) throw ApplicationFailure.nonRetryable(`The input file (upload ${req.uploadId}) no longer exists`, ErrorCode.inputFileMissing);
      return storage.presignGet(upload.s3Key);
    },
  };
}
