import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Upload } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { MultipartError, receiveMultipart, type ReceivedFile, type ReceivedUpload } from '../http/multipart';
import { formatBytes } from '../images/format';
import { SNIFF_LENGTH, sniffMediaType } from '../images/sniff';
import type { Storage } from '../storage/s3';

export interface UploadDeps {
  config: Config;
  db: Db;
  storage: Storage;
}

/** Room for the multipart framing around the largest file. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * POST /uploads: receives one file (form field `file`) to a temp file, takes its type from
 * its bytes (415 if it is not an image, audio or video type we know), checks the size limit
 * of that kind (413), and streams it into our bucket under uploads/<user>/<upload id>.
 */
export async function createUpload(deps: UploadDeps, req: { userId: string; body: IncomingMessage }): Promise<Upload> {
  const { maxBytes } = deps.config.uploads;
  const received = await receiveFile(req.body, Math.max(maxBytes.image, maxBytes.audio, maxBytes.video));
  try {
    const file = received.files[0];
    if (!file) throw AppError.validation('Send the file as multipart/form-data in the form field "file"', { issues: [{ field: 'file', message: 'required' }] });
    const contentType = sniffMediaType(await readHead(file));
    if (!contentType) {
      throw new AppError(415, ErrorCode.unsupportedMediaType, 'The file is not an image (JPEG, PNG, WebP, GIF), audio (WAV, MP3, FLAC, OGG) or video (MP4, WebM) file; its type is read from its content, not its name');
    }
    const kind = contentType.split('/')[0] as keyof typeof maxBytes;
    // A file cut off at the largest limit is kept as that limit + 1 bytes: too large for any kind.
    if (file.sizeBytes > maxBytes[kind]) {
      throw new AppError(413, ErrorCode.payloadTooLarge, `The ${kind} file is larger than the ${formatBytes(maxBytes[kind])} limit for ${kind} files`, {
        content_type: contentType,
        max_bytes: maxBytes[kind],
      });
    }
    const id = randomUUID();
    const stored = await deps.storage.putStream(`uploads/${req.userId}/${id}`, createReadStream(file.path), contentType);
    return await deps.db.upload.create({
      data: { id, userId: req.userId, s3Key: stored.key, contentType, sizeBytes: BigInt(stored.sizeBytes), sha256: stored.sha256 },
    });
  } finally {
    await received.cleanup();
  }
}

async function receiveFile(body: IncomingMessage, maxFileBytes: number): Promise<ReceivedUpload> {
  try {
    return await receiveMultipart(body, {
      fileFields: ['file'],
      limits: { maxFiles: 1, maxFileBytes, maxTotalBytes: maxFileBytes + MULTIPART_OVERHEAD_BYTES, maxFields: 5, maxFieldBytes: 1024 },
    });
  } catch (err) {
    if (!(err instanceof MultipartError)) throw err;
    const status = err.code === 'payload_too_large' || err.code === 'too_many_files' ? 413 : err.code === 'not_multipart' ? 415 : 400;
    const code = status === 413 ? ErrorCode.payloadTooLarge : ErrorCode.validationFailed;
    // The body is left unread: close the connection after answering.
    throw new AppError(status, code, err.message, { reason: err.code }, { Connection: 'close' });
  }
}

async function readHead(file: ReceivedFile): Promise<Buffer> {
  const handle = await open(file.path);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(SNIFF_LENGTH), 0, SNIFF_LENGTH, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}
