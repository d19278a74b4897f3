import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApplicationFailure, Context } from '@temporalio/activity';
import sharp from 'sharp';
import { ErrorCode } from '../src/error-codes';
import { sniffMediaType } from '../src/images/sniff';
import { OutputUrlRefused, type OutputFetcher, type OutputResponse } from '../src/provider/output-fetch';
import type { Storage } from '../src/storage/s3';

export interface CopiedOutput {
  index: number;
  key: string;
  contentType: string;
  sizeBytes: number;
  sha256: string;
  width: number | null;
  height: number | null;
  sourceUrl: string;
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'audio/wav': 'wav',
  'audio/mpeg': 'mp3',
  'audio/flac': 'flac',
  'audio/ogg': 'ogg',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
};
/** Enough of a file to read image dimensions from its header. */
const HEAD_BYTES = 256 * 1024;
/** How often a running copy heartbeats (its heartbeat timeout is a few times this), slow download or not. */
const HEARTBEAT_EVERY_MS = 1000;
/** The type of a file whose bytes are none we know: served as a download, never rendered. */
const UNKNOWN_TYPE = 'application/octet-stream';

/** Whose outputs they are: a job (with its run's figures), or a prompt on a trained model. */
export type OutputsOwner =
  | { job: { jobId: string; metrics: Record<string, unknown> | null; providerCompletedAt: string | null } }
  | { prompt: { promptId: string; versionId: string } };

/** Records stored outputs on their owner and settles what it reserved (activities/index.ts binds it to completeJob, completePrompt). */
export type RecordOutputs = (owner: OutputsOwner, outputs: CopiedOutput[]) => Promise<void>;

/**
 * Copies provider outputs into our bucket as soon as they exist (Replicate deletes them
 * after an hour). The key is deterministic, so a retried copy overwrites the same object
 * harmlessly.
 *
 * The URL is fetched through the output fetcher (src/provider/output-fetch.ts): a URL it refuses
 * fails the copy for good with `output_url_refused`. The stored type comes from the bytes, never
 * from the provider's Content-Type; bytes of no type we know are kept as application/octet-stream
 * (a model may legitimately produce other files, and that type is only ever downloaded).
 * A copy heartbeats every second with the bytes copied so far, and stops when canceled.
 */
export function createOutputActivities({ storage, outputFetcher, recordOutputs }: { storage: Storage; outputFetcher: OutputFetcher; recordOutputs: RecordOutputs }) {
  const copy = (req: { keyPrefix: string; index: number; url: string }, signal: AbortSignal, onBytes: (n: number) => void) =>
    copyOne(storage, outputFetcher, req, signal, onBytes);
  return {
    /** One output, one activity, so a failed copy retries alone (reconciliation; work started before storeOutputs). */
    async copyOutput(req: { keyPrefix: string; index: number; url: string }): Promise<CopiedOutput> {
      const ctx = Context.current();
      let copied = 0;
      const heartbeat = setInterval(() => ctx.heartbeat({ bytes: copied }), HEARTBEAT_EVERY_MS);
      try {
        return await copy(req, ctx.cancellationSignal, (bytes) => (copied += bytes));
      } finally {
        clearInterval(heartbeat);
      }
    },

    /**
     * A job's or prompt's last step: copies every output in parallel, then records them on their
     * owner and settles what it reserved, as one activity. A retry copies them all again onto the
     * same keys (outputs are small; what it saves is a scheduled step per output and one for the
     * record), and an owner that was canceled or failed meanwhile stays so.
     * Returns how many outputs were stored.
     */
    async storeOutputs(req: { keyPrefix: string; urls: string[]; owner: OutputsOwner }): Promise<number> {
      const ctx = Context.current();
      let copied = 0;
      const heartbeat = setInterval(() => ctx.heartbeat({ bytes: copied }), HEARTBEAT_EVERY_MS);
      try {
        const outputs = await Promise.all(
          req.urls.map((url, index) => copy({ keyPrefix: req.keyPrefix, index, url }, ctx.cancellationSignal, (bytes) => (copied += bytes))),
        );
        await recordOutputs(req.owner, outputs);
        return outputs.length;
      } finally {
        clearInterval(heartbeat);
      }
    },
  };
}

async function copyOne(
  storage: Storage,
  fetcher: OutputFetcher,
  req: { keyPrefix: string; index: number; url: string },
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<CopiedOutput> {
  const res = await download(fetcher, req, signal);
  const head = await readHead(res.body, HEAD_BYTES, onBytes);
  const contentType = sniffMediaType(head.bytes) ?? UNKNOWN_TYPE;
  const key = `${req.keyPrefix}/${req.index}.${EXTENSIONS[contentType] ?? 'bin'}`;

  const stored = await storage.putStream(key, head.rest, contentType);
  const size = contentType.startsWith('image/') ? await imageSize(head.bytes) : null;
  return {
    index: req.index,
    key,
    contentType,
    sizeBytes: stored.sizeBytes,
    sha256: stored.sha256,
    width: size?.width ?? null,
    height: size?.height ?? null,
    sourceUrl: req.url,
  };
}

/** The output's response, or the failure that says what to do: give up (refused, gone) or retry. */
async function download(fetcher: OutputFetcher, req: { index: number; url: string }, signal: AbortSignal): Promise<OutputResponse> {
  let res: OutputResponse;
  try {
    res = await fetcher(req.url, { signal });
  } catch (err) {
    if (err instanceof OutputUrlRefused) throw ApplicationFailure.nonRetryable(`Output ${req.index}: ${err.message}`, ErrorCode.outputUrlRefused);
    throw err;
  }
  if (res.status === 404 || res.status === 410) {
    res.body.resume();
    throw ApplicationFailure.nonRetryable(`Output ${req.index} is gone from the provider (${res.status})`, ErrorCode.outputExpired);
  }
  if (res.status < 200 || res.status >= 300) {
    res.body.resume();
    throw new Error(`Downloading output ${req.index} failed with HTTP ${res.status}`);
  }
  return res;
}

/**
 * Reads up to `limit` bytes, and returns them with a stream that replays them followed by the
 * rest. `onChunk` sees the size of every chunk read from `source`, head and rest.
 */
async function readHead(source: Readable, limit: number, onChunk: (bytes: number) => void): Promise<{ bytes: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  const iterator = source[Symbol.asyncIterator]();
  while (length < limit) {
    const { value, done } = await iterator.next();
    if (done) break;
    const chunk = Buffer.from(value as Uint8Array);
    onChunk(chunk.length);
    chunks.push(chunk);
    length += chunk.length;
  }
  const bytes = Buffer.concat(chunks);
  async function* replay() {
    yield bytes;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) return;
      const chunk = Buffer.from(value as Uint8Array);
      onChunk(chunk.length);
      yield chunk;
    }
  }
  return { bytes, rest: Readable.from(replay()) };
}

async function imageSize(head: Buffer): Promise<{ width: number; height: number } | null> {
  try {
    const meta = await sharp(head).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : null;
  } catch {
    return null;
  }
}

/** The database columns of a copied output (job outputs and prompt images share them). */
export function outputColumns(o: CopiedOutput) {
  return {
    id: randomUUID(),
    index: o.index,
    s3Key: o.key,
    contentType: o.contentType,
    sizeBytes: BigInt(o.sizeBytes),
    sha256: o.sha256,
    width: o.width,
    height: o.height,
  };
}
