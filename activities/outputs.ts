import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/activity';
import sharp from 'sharp';
import { ErrorCode } from '../src/error-codes';
import { sniffMediaType } from '../src/images/sniff';
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

/**
 * Copies provider outputs into our bucket as soon as they exist (Replicate deletes them
 * after an hour). One activity per file, so a failed copy retries alone. The key is
 * deterministic, so a retried copy overwrites the same object harmlessly.
 */
export function createOutputActivities({ storage, fetch: fetchImpl = fetch }: { storage: Storage; fetch?: typeof fetch }) {
  return {
    async copyOutput(req: { keyPrefix: string; index: number; url: string }): Promise<CopiedOutput> {
      const res = await fetchImpl(req.url);
      if (res.status === 404 || res.status === 410) {
        throw ApplicationFailure.nonRetryable(`Output ${req.index} is gone from the provider (${res.status})`, ErrorCode.outputExpired);
      }
      if (!res.ok || !res.body) throw new Error(`Downloading output ${req.index} failed with HTTP ${res.status}`);

      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
      const head = await readHead(body, HEAD_BYTES);
      const contentType = sniffMediaType(head.bytes) ?? res.headers.get('content-type')?.split(';')[0] ?? 'application/octet-stream';
      const ext = EXTENSIONS[contentType] ?? 'bin';
      const key = `${req.keyPrefix}/${req.index}.${ext}`;

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
    },
  };
}

/** Reads up to `limit` bytes, and returns them with a stream that replays them followed by the rest. */
async function readHead(source: Readable, limit: number): Promise<{ bytes: Buffer; rest: Readable }> {
  const chunks: Buffer[] = [];
  let length = 0;
  const iterator = source[Symbol.asyncIterator]();
  while (length < limit) {
    const { value, done } = await iterator.next();
    if (done) break;
    const chunk = Buffer.from(value as Uint8Array);
    chunks.push(chunk);
    length += chunk.length;
  }
  const bytes = Buffer.concat(chunks);
  async function* replay() {
    yield bytes;
    for (;;) {
      const { value, done } = await iterator.next();
      if (done) return;
      yield Buffer.from(value as Uint8Array);
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
