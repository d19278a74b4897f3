import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Config } from '../config';
import { meter } from '../streams';

export interface StoredObject {
  key: string;
  sizeBytes: number;
  sha256: string;
  contentType: string;
}

export interface ObjectStream {
  body: Readable;
  contentType: string;
  sizeBytes: number;
}

/** Our bucket: streaming uploads (multipart, bounded memory), presigned reads, streamed downloads. */
export interface Storage {
  readonly bucket: string;
  /** Streams `body` into `key`, hashing as it goes. Never buffers the whole object. */
  putStream(key: string, body: Readable, contentType: string): Promise<StoredObject>;
  /**
   * A presigned GET URL. With `signedAt`, the same key, options and time always give the same
   * URL, so a retried provider call sends exactly the input the first attempt sent.
   */
  presignGet(key: string, opts?: { ttlSeconds?: number; downloadName?: string; signedAt?: Date }): Promise<string>;
  getStream(key: string): Promise<ObjectStream | null>;
  exists(key: string): Promise<boolean>;
  remove(keys: string[]): Promise<void>;
  ping(): Promise<void>;
}

/**
 * Deadlines on every S3 request, so a dead or silent S3 fails in seconds instead of holding a
 * request or an activity: a connection within 3 s, the answer's headers within 30 s (a 5 MB
 * multipart part included), and never 5 s without a byte either way (a stalled stream).
 */
const S3_REQUEST_HANDLER = { connectionTimeout: 3_000, requestTimeout: 30_000, throwOnRequestTimeout: true, socketTimeout: 5_000 };

export function createS3Client(cfg: Config['s3']): S3Client {
  return new S3Client({
    region: cfg.region,
    endpoint: cfg.endpoint,
    forcePathStyle: cfg.forcePathStyle,
    credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey },
    requestHandler: S3_REQUEST_HANDLER,
  });
}

export function createStorage(client: S3Client, cfg: Config['s3']): Storage {
  const bucket = cfg.bucket;
  return {
    bucket,

    async putStream(key, body, contentType) {
      const measure = meter();
      const pass = new PassThrough();
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: pass, ContentType: contentType },
        queueSize: 2,
        partSize: 5 * 1024 * 1024,
      });
      await Promise.all([pipeline(body, measure.stream, pass), upload.done()]);
      return { key, sizeBytes: measure.sizeBytes(), sha256: measure.sha256(), contentType };
    },

    async presignGet(key, opts = {}) {
      const command = new GetObjectCommand({
        Bucket: bucket,
        Key: key,
        ResponseContentDisposition: opts.downloadName ? `inline; filename="${opts.downloadName}"` : undefined,
      });
      return getSignedUrl(client, command, { expiresIn: opts.ttlSeconds ?? cfg.presignTtlSeconds, signingDate: opts.signedAt });
    },

    async getStream(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return {
          body: res.Body as Readable,
          contentType: res.ContentType ?? 'application/octet-stream',
          sizeBytes: Number(res.ContentLength ?? 0),
        };
      } catch (err) {
        if (err instanceof NoSuchKey) return null;
        throw err;
      }
    },

    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (err) {
        if (err instanceof NotFound || (err as { name?: string }).name === 'NotFound') return false;
        throw err;
      }
    },

    async remove(keys) {
      for (let i = 0; i < keys.length; i += 1000) {
        const batch = keys.slice(i, i + 1000);
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      }
    },

    async ping() {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    },
  };
}
