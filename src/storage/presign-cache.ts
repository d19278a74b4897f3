import type { Storage } from './s3';

/**
 * Presigned GET URLs of our bucket, reused while they are still good. Signing one costs 1.3–2 ms
 * of CPU (the SDK's middleware stack and an HMAC chain), and GET /status of a finished job signs
 * the same keys on every poll. A URL is reused only until half its lifetime has passed, so whoever
 * receives it can still use it for at least half the TTL it was signed with (S3_PRESIGN_TTL_SECONDS,
 * default 1 h: at least 30 min). The lifetime is read from the URL itself (X-Amz-Date,
 * X-Amz-Expires), so the cache needs no settings of its own and follows whatever TTL was asked.
 */
export type Presign = (key: string, opts?: { ttlSeconds?: number }) => Promise<string>;

/** The share of its lifetime after which a URL is signed anew instead of reused. */
const REUSE_FRACTION = 0.5;
/** URLs kept per process (about 0.6 KB each), least recently served dropped first. */
const DEFAULT_MAX_ENTRIES = 10_000;

/** A presigner over `storage` with its own LRU of at most `maxEntries` URLs, keyed by object key and TTL. */
export function createPresignCache(storage: Storage, opts: { maxEntries?: number } = {}): Presign {
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const urls = new Map<string, { url: string; reuseUntil: number }>();
  return async (key, { ttlSeconds } = {}) => {
    const id = `${ttlSeconds ?? ''}|${key}`;
    const hit = urls.get(id);
    if (hit) {
      urls.delete(id); // re-inserted below: a Map iterates oldest first, so this keeps LRU order
      if (hit.reuseUntil > Date.now()) {
        urls.set(id, hit);
        return hit.url;
      }
    }
    const url = await storage.presignGet(key, ttlSeconds === undefined ? {} : { ttlSeconds });
    urls.set(id, { url, reuseUntil: reuseUntil(url) });
    if (urls.size > maxEntries) urls.delete(urls.keys().next().value!);
    return url;
  };
}

const perStorage = new WeakMap<Storage, Presign>();

/** A presigned GET URL of `key` from the process-wide cache of `storage`. */
export function presignedGet(storage: Storage, key: string, opts?: { ttlSeconds?: number }): Promise<string> {
  let presign = perStorage.get(storage);
  if (!presign) perStorage.set(storage, (presign = createPresignCache(storage)));
  return presign(key, opts);
}

/** When a URL has used up REUSE_FRACTION of its lifetime (0: never reuse one that does not say). */
function reuseUntil(url: string): number {
  const query = new URL(url).searchParams;
  const signedAt = amzDate(query.get('X-Amz-Date'));
  const lifetimeMs = Number(query.get('X-Amz-Expires')) * 1000;
  if (signedAt === undefined || !(lifetimeMs > 0)) return 0;
  return signedAt + lifetimeMs * REUSE_FRACTION;
}

/** SigV4's timestamp, e.g. 20261128T222136Z, in epoch milliseconds. */
function amzDate(value: string | null): number | undefined {
  const m = value?.match(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(year, month - 1, day, hour, minute, second);
}
