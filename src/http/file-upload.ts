import type { IncomingMessage } from 'node:http';
import type { IncomingFile } from '../uploads/service';
import { MultipartError, receiveMultipart } from './multipart';

/** Room for the multipart framing around the largest file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * POST /uploads' file (form field `file`, one file, a few small fields), read only when the
 * service asks, after it reserved the user's storage for it.
 */
export function incomingFile(req: IncomingMessage): IncomingFile {
  const declared = Number(req.headers['content-length']);
  return {
    declaredBytes: Number.isFinite(declared) ? declared : null,
    async receive(maxBytes, whenTooLarge) {
      try {
        return await receiveMultipart(req, {
          fileFields: ['file'],
          limits: { maxFiles: 1, maxFileBytes: maxBytes, maxTotalBytes: maxBytes + MULTIPART_OVERHEAD_BYTES, maxFields: 5, maxFieldBytes: 1024 },
        });
      } catch (err) {
        if (!(err instanceof MultipartError)) throw err;
        const quota = err.code === 'payload_too_large' ? whenTooLarge() : undefined;
        if (quota) throw await quota;
        throw err.toAppError();
      }
    },
  };
}
