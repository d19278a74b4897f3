import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { createPresignCache, presignedGet } from '../../src/storage/presign-cache';
import { createS3Client, createStorage, type Storage } from '../../src/storage/s3';
import { readStackInfo } from '../../tools/dev/stack-info';

/**
 * Presigned URLs reused while valid, against the test stack's MinIO: a reused URL still
 * downloads the object and always has at least half its lifetime left when it is served.
 */
const TTL_SECONDS = 60;
let s3Client: ReturnType<typeof createS3Client>;
let storage: Storage;
let signed: string[];
/** The real storage, counting the URLs it signs. */
let counting: Storage;
const key = `presign-cache/${randomUUID()}.txt`;

beforeAll(async () => {
  const { s3 } = readStackInfo();
  const cfg = { ...s3, presignTtlSeconds: TTL_SECONDS };
  s3Client = createS3Client(cfg);
  storage = createStorage(s3Client, cfg);
  await storage.putStream(key, Readable.from([Buffer.from('hello')]), 'text/plain');
});
beforeEach(() => {
  signed = [];
  counting = {
    ...storage,
    presignGet: async (k, opts) => {
      const url = await storage.presignGet(k, opts);
      signed.push(url);
      return url;
    },
  };
});
afterAll(async () => {
  await storage.remove([key]);
  s3Client.destroy();
});

/** Milliseconds a presigned URL is still valid for, from its own X-Amz-Date and X-Amz-Expires. */
function msLeft(url: string): number {
  const q = new URL(url).searchParams;
  const d = q.get('X-Amz-Date')!;
  const signedAt = Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
  return signedAt + Number(q.get('X-Amz-Expires')) * 1000 - Date.now();
}

describe('the presigned URL cache', () => {
  it('when the same key is asked for again, then the URL signed first is served and it still downloads the object', async () => {
    const presign = createPresignCache(counting);
    const first = await presign(key);
    const again = await Promise.all([presign(key), presign(key)]);
    expect(again).toEqual([first, first]);
    expect(signed).toHaveLength(1);
    const res = await fetch(again[0]!);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    expect(msLeft(first)).toBeGreaterThan((TTL_SECONDS / 2) * 1000);
  });

  it('when half of a URL lifetime has passed, then a new URL is signed, so a served URL always has at least half its lifetime left', async () => {
    const presign = createPresignCache(counting);
    const ttlSeconds = 4;
    const served: { url: string; msLeft: number }[] = [];
    const until = Date.now() + 4_500;
    while (Date.now() < until) {
      const url = await presign(key, { ttlSeconds });
      served.push({ url, msLeft: msLeft(url) });
      await new Promise((r) => setTimeout(r, 100));
    }
    // msLeft is read a moment after the URL was served (a loaded machine: allow 200 ms for that).
    for (const s of served) expect(s.msLeft).toBeGreaterThanOrEqual((ttlSeconds / 2) * 1000 - 200);
    expect(signed.length).toBeGreaterThanOrEqual(2);
    expect(signed.length).toBeLessThan(served.length / 3);
    expect(new Set(served.map((s) => s.url)).size).toBe(signed.length);
    expect((await fetch(served.at(-1)!.url)).status).toBe(200);
  });

  it('when the keys or TTLs differ, then each gets its own URL; when the cache is full, then the least recently served is signed again', async () => {
    const presign = createPresignCache(counting, { maxEntries: 2 });
    const a = await presign('a');
    const aShort = await presign('a', { ttlSeconds: 30 });
    expect(new URL(aShort).searchParams.get('X-Amz-Expires')).toBe('30');
    expect(new URL(a).searchParams.get('X-Amz-Expires')).toBe(String(TTL_SECONDS));
    await presign('a'); // served again: now the most recent
    await presign('b'); // the cache holds 2: "a" with 30 s is dropped
    expect(signed).toHaveLength(3);
    await presign('a');
    expect(signed).toHaveLength(3);
    await presign('a', { ttlSeconds: 30 });
    expect(signed).toHaveLength(4);
  });

  it('when the process-wide cache is used for one storage, then it is one cache for that storage and another for another storage', async () => {
    const other: Storage = { ...counting };
    const url = await presignedGet(counting, key);
    expect(await presignedGet(counting, key)).toBe(url);
    await presignedGet(other, key);
    expect(signed).toHaveLength(2);
  });
});
