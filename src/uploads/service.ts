import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Config } from '../config';
import type { Db } from '../db/client';
import type { Upload } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import type { ReceivedFile, ReceivedUpload } from '../shared/received-file';
import { formatBytes } from '../images/format';
import { SNIFF_LENGTH, sniffMediaType } from '../images/sniff';
import type { Storage } from '../storage/s3';
import { readAudioDurationMs } from './audio-duration';
import { releaseUploadBytes, reserveUploadBytes, usedUploadBytes } from './quota';

export interface UploadDeps {
  config: Config;
  db: Db;
  storage: Storage;
}

/** The file of an upload request, not read yet: the service reserves quota first, then receives it (src/http/file-upload.ts). */
export interface IncomingFile {
  /** The request's declared length (Content-Length), if it gave one. */
  declaredBytes: number | null;
  /**
   * Receives the file to a temp file, at most `maxBytes` of it: past that the rest is discarded
   * and the file is kept as maxBytes + 1 bytes, marked truncated. A body too large for such a
   * form throws the error `whenTooLarge` gives, if it gives one, else 413 payload_too_large; a
   * malformed form throws its 4xx.
   */
  receive(maxBytes: number, whenTooLarge: () => Promise<AppError> | undefined): Promise<ReceivedUpload>;
}

/**
 * POST /uploads: receives one file (form field `file`) to a temp file, takes its type from
 * its bytes (415 if it is not an image, audio or video type we know), checks the size limit
 * of that kind (413), and streams it into our bucket under uploads/<user>/<upload id>. An
 * audio file's duration is read from its headers first and kept on the row (null when they
 * give none: the upload is accepted all the same, and a job that needs the duration refuses it).
 *
 * The user's storage quota (UPLOAD_QUOTA_BYTES) is reserved before the body is read: as much as
 * the file may need (its kind's largest limit, or less if Content-Length says so), or what is
 * left of the quota. Reading stops as soon as the file grows past its reservation (413
 * storage_quota_exceeded), so parallel uploads cannot fill the disk or the bucket. The
 * reservation is settled to the file's real size, or released if the upload fails.
 */
export async function createUpload(deps: UploadDeps, req: { userId: string; file: IncomingFile }): Promise<Upload> {
  const { maxBytes, quotaBytes } = deps.config.uploads;
  const largest = Math.max(maxBytes.image, maxBytes.audio, maxBytes.video);
  const declared = req.file.declaredBytes;
  const want = declared !== null && Number.isSafeInteger(declared) && declared > 0 ? Math.min(largest, declared) : largest;
  const granted = await reserveUploadBytes(deps.db, req.userId, want, quotaBytes);
  if (granted === 0) throw await quotaExceeded(deps, req.userId, { ownReservation: 0, closeConnection: true });
  // The quota, not a size limit, is what stops a file that outgrows its reservation.
  const quotaBound = granted < want;
  let settled = false;
  try {
    const received = await req.file.receive(granted, () => (quotaBound ? quotaExceeded(deps, req.userId, { ownReservation: granted, closeConnection: true }) : undefined));
    try {
      const upload = await storeUpload(deps, req.userId, received, { granted, quotaBound });
      settled = true;
      return upload;
    } finally {
      await received.cleanup();
    }
  } finally {
    if (!settled) await releaseUploadBytes(deps.db, req.userId, granted);
  }
}

/** Checks the received file, puts it into the bucket and records it, settling the reservation in the same transaction. */
async function storeUpload(deps: UploadDeps, userId: string, received: ReceivedUpload, reservation: { granted: number; quotaBound: boolean }): Promise<Upload> {
  const { maxBytes } = deps.config.uploads;
  const file = received.files[0];
  if (!file) throw AppError.validation('Send the file as multipart/form-data in the form field "file"', { issues: [{ field: 'file', message: 'required' }] });
  // A file cut off at its reservation is kept as that size + 1 bytes: over the quota, unless a kind limit binds first.
  if (file.sizeBytes > reservation.granted && reservation.quotaBound) throw await quotaExceeded(deps, userId, { ownReservation: reservation.granted });
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
  // Read before the file goes to the bucket, so a failure here leaves nothing there.
  const durationMs = kind === 'audio' ? await readAudioDurationMs(file.path, contentType) : null;
  const stored = await deps.storage.putStream(`uploads/${userId}/${id}`, createReadStream(file.path), contentType);
  try {
    return await deps.db.$transaction(async (tx) => {
      await releaseUploadBytes(tx, userId, reservation.granted - stored.sizeBytes);
      return tx.upload.create({
        data: { id, userId, s3Key: stored.key, contentType, sizeBytes: BigInt(stored.sizeBytes), sha256: stored.sha256, durationMs },
      });
    });
  } catch (err) {
    await deps.storage.remove([stored.key]).catch(() => undefined);
    throw err;
  }
}

/** 413 storage_quota_exceeded; `ownReservation` (still held by this upload) does not count as used. */
async function quotaExceeded(deps: UploadDeps, userId: string, opts: { ownReservation: number; closeConnection?: boolean }): Promise<AppError> {
  const { quotaBytes } = deps.config.uploads;
  const used = (await usedUploadBytes(deps.db, userId)) - opts.ownReservation;
  return new AppError(
    413,
    ErrorCode.storageQuotaExceeded,
    `Your uploads would exceed your ${formatBytes(quotaBytes)} storage quota (${formatBytes(Math.max(0, quotaBytes - used))} left, counting other uploads in progress)`,
    { quota_bytes: quotaBytes, used_bytes: used },
    // The body is left unread: close the connection after answering.
    opts.closeConnection ? { Connection: 'close' } : undefined,
  );
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
