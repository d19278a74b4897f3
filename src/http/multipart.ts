import busboy, { type Busboy, type FieldInfo, type FileInfo } from 'busboy';
import { createWriteStream } from 'fs';
import { mkdtemp, rm } from 'fs/promises';
import type { IncomingMessage } from 'http';
import { tmpdir } from 'os';
import { join } from 'path';
import type { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { AppError, ErrorCode } from '../errors';
import { formatBytes } from '../images/format';
import { meter } from '../streams';
import type { ReceivedFile, ReceivedUpload } from '../shared/received-file';

export interface MultipartLimits {
  maxFiles: number;
  maxFileBytes: number;
  /** Cap on the whole request body, including bytes discarded from truncated files. */
  maxTotalBytes: number;
  maxFields?: number;
  maxFieldBytes?: number;
}

export interface ReceiveOptions {
  /** Form fields that may carry files; a file in any other field is rejected. */
  fileFields: string[];
  limits: MultipartLimits;
  /** Parent of the per-upload temp directory; defaults to the OS temp dir. */
  tmpDir?: string;
}

export type MultipartErrorCode =
  | 'not_multipart'
  | 'too_many_files'
  | 'payload_too_large'
  | 'malformed_multipart'
  | 'unexpected_field'
  /** The client went away mid-upload; there is nobody left to answer. */
  | 'aborted';

export class MultipartError extends Error {
  constructor(
    readonly code: MultipartErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'MultipartError';
  }

  /**
   * The answer to the client, one code per meaning: too large 413 payload_too_large, not
   * multipart 415 unsupported_media_type, anything else 400 invalid_multipart. The body is left
   * unread, so the connection closes after the answer.
   */
  toAppError(): AppError {
    const [status, code] =
      this.code === 'payload_too_large' || this.code === 'too_many_files'
        ? [413, ErrorCode.payloadTooLarge]
        : this.code === 'not_multipart'
          ? [415, ErrorCode.unsupportedMediaType]
          : [400, ErrorCode.invalidMultipart];
    return new AppError(status, code, this.message, { reason: this.code }, { Connection: 'close' });
  }
}

const DEFAULT_MAX_FIELDS = 100;
const DEFAULT_MAX_FIELD_BYTES = 64 * 1024;

/**
 * Streams a multipart/form-data request to a fresh temp directory, hashing each file on the way.
 * Never holds whole files in memory. Rejects with MultipartError (temp files already removed) when
 * the request is not acceptable; on success the caller owns the files and must call cleanup().
 * After a rejection the request body is left unread: reply and close the connection.
 */
export async function receiveMultipart(req: IncomingMessage, opts: ReceiveOptions): Promise<ReceivedUpload> {
  assertAcceptable(req, opts.limits);
  const parser = createParser(req, opts.limits);
  const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'upload-'));
  const intake = new MultipartIntake(req, parser, dir, opts);
  try {
    const { files, fields } = await intake.receive();
    return { files, fields, dir, cleanup: () => removeDir(dir) };
  } catch (err) {
    await intake.writesSettled();
    await removeDir(dir);
    throw err;
  }
}

function assertAcceptable(req: IncomingMessage, limits: MultipartLimits): void {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
    throw new MultipartError(
      'not_multipart',
      `Expected a multipart/form-data upload, got ${contentType || 'no content type'}`,
    );
  }
  if (Number(req.headers['content-length'] ?? 0) > limits.maxTotalBytes) throw uploadTooLarge(limits);
}

function createParser(req: IncomingMessage, limits: MultipartLimits): Busboy {
  try {
    return busboy({
      headers: req.headers,
      // +1: busboy flags a part that merely reaches its limit as truncated.
      limits: {
        files: limits.maxFiles,
        fileSize: limits.maxFileBytes + 1,
        fields: limits.maxFields ?? DEFAULT_MAX_FIELDS,
        fieldSize: (limits.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES) + 1,
      },
    });
  } catch (err) {
    throw malformed(err);
  }
}

function uploadTooLarge(limits: MultipartLimits): MultipartError {
  return new MultipartError('payload_too_large', `The upload is larger than the ${formatBytes(limits.maxTotalBytes)} limit`);
}

function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

type FileStream = Readable & { truncated?: boolean };
type Received = Pick<ReceivedUpload, 'files' | 'fields'>;

/** One request's parse: busboy events in, files on disk and fields out, first failure wins. */
class MultipartIntake {
  private readonly files: ReceivedFile[] = [];
  private readonly fields: Record<string, string> = {};
  /** One per file; never rejects (a write error fails the intake instead). */
  private readonly writes: Promise<void>[] = [];
  private bodyBytes = 0;
  private failed = false;
  private rejectReceive: (err: unknown) => void = () => undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly parser: Busboy,
    private readonly dir: string,
    private readonly opts: ReceiveOptions,
  ) {}

  receive(): Promise<Received> {
    return new Promise((resolve, reject) => {
      this.rejectReceive = reject;
      this.listenToParser(() => resolve({ files: this.files, fields: this.fields }));
      this.listenToRequest();
      this.req.pipe(this.parser);
    });
  }

  writesSettled(): Promise<unknown> {
    return Promise.all(this.writes);
  }

  private listenToParser(onDone: () => void): void {
    const { limits } = this.opts;
    const maxFields = limits.maxFields ?? DEFAULT_MAX_FIELDS;
    this.parser.on('file', (field, stream, info) => this.onFile(field, stream, info));
    this.parser.on('field', (name, value, info) => this.onField(name, value, info));
    this.parser.on('filesLimit', () =>
      this.fail(new MultipartError('too_many_files', `Too many files: at most ${limits.maxFiles} can be uploaded at once`)),
    );
    this.parser.on('fieldsLimit', () =>
      this.fail(new MultipartError('payload_too_large', `Too many form fields: at most ${maxFields}`)),
    );
    this.parser.on('error', (err) => this.fail(malformed(err)));
    this.parser.on('close', () => void this.writesSettled().then(onDone));
  }

  private listenToRequest(): void {
    const aborted = () => this.fail(new MultipartError('aborted', 'The client disconnected before the upload finished'));
    this.req.on('data', (chunk: Buffer) => this.countBody(chunk.length));
    this.req.on('error', aborted);
    this.req.on('close', () => {
      if (!this.req.complete) aborted();
    });
    if (this.req.destroyed && !this.req.complete) aborted(); // gone before we started listening
  }

  private countBody(bytes: number): void {
    this.bodyBytes += bytes;
    if (this.bodyBytes > this.opts.limits.maxTotalBytes) this.fail(uploadTooLarge(this.opts.limits));
  }

  private onFile(field: string, stream: FileStream, info: FileInfo): void {
    if (this.failed) {
      discard(stream);
      return;
    }
    if (!this.opts.fileFields.includes(field)) {
      discard(stream);
      const accepted = this.opts.fileFields.map((name) => `"${name}"`).join(', ');
      this.fail(new MultipartError('unexpected_field', `Files are accepted only in ${accepted}; got one in "${field}"`));
      return;
    }
    const index = this.writes.length;
    const path = join(this.dir, `${String(index + 1).padStart(4, '0')}.upload`);
    const write = saveFile(stream, path).then(
      (saved) => {
        this.files[index] = { field, filename: info.filename ?? '', declaredType: info.mimeType, path, ...saved };
      },
      (err: unknown) => this.fail(err),
    );
    this.writes.push(write);
  }

  private onField(name: string, value: string, info: FieldInfo): void {
    if (info.valueTruncated) {
      const max = this.opts.limits.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
      this.fail(new MultipartError('payload_too_large', `The form field "${name}" is longer than ${formatBytes(max)}`));
      return;
    }
    this.fields[name] = value;
  }

  /** Stops parsing (which also destroys the file stream being written) and rejects; later failures are ignored. */
  private fail(err: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.req.unpipe(this.parser);
    this.parser.destroy();
    this.rejectReceive(err);
  }
}

/** Drains a part nobody will keep. Stopping the parse destroys it with an error, which is expected. */
function discard(stream: FileStream): void {
  stream.on('error', () => undefined).resume();
}

function malformed(err: unknown): MultipartError {
  const detail = err instanceof Error ? err.message : String(err);
  return new MultipartError('malformed_multipart', `The upload could not be read as multipart/form-data: ${detail}`);
}

/** Pipes one file part to disk with backpressure, hashing and counting the bytes as they pass. */
async function saveFile(stream: FileStream, path: string): Promise<Pick<ReceivedFile, 'sizeBytes' | 'sha256' | 'truncated'>> {
  const measure = meter();
  await pipeline(stream, measure.stream, createWriteStream(path, { flags: 'wx' }));
  return { sizeBytes: measure.sizeBytes(), sha256: measure.sha256(), truncated: stream.truncated === true };
}
