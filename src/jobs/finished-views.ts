/**
 * GET /status answers of finished jobs, kept for a few seconds per API process. A finished job
 * never changes (its status, outputs and credits are written once, in the transaction that
 * finishes it), and clients poll it in tight loops; a hit costs no query, no presigning and no
 * JSON serialization. Keyed by the caller and the job, so an entry answers only its owner. The
 * output URLs inside stay good: the presign cache hands out URLs with at least half their
 * lifetime left (src/storage/presign-cache.ts), far more than the few seconds an entry lives.
 * The one later change, deleting its outputs (on request or expiry), drops this process's entry;
 * another process may show the deleted outputs' URLs for the few seconds its entry has left.
 */
export interface FinishedViews {
  /** The serialized view, if this caller's finished job is cached and fresh. */
  get(userId: string, jobId: string): string | undefined;
  /** Remembers a finished job's serialized view. */
  set(userId: string, jobId: string, body: string): void;
  /** Drops a job's view (its outputs were deleted). */
  forget(userId: string, jobId: string): void;
}

const DEFAULT_TTL_MS = 10_000;
/** Views kept per process (a few KB each), oldest first out. */
const DEFAULT_MAX_ENTRIES = 5_000;

export function createFinishedViews(opts: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}): FinishedViews {
  const ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = opts.now ?? Date.now;
  const views = new Map<string, { body: string; until: number }>();
  const id = (userId: string, jobId: string) => `${userId}/${jobId}`;
  return {
    get(userId, jobId) {
      const key = id(userId, jobId);
      const hit = views.get(key);
      if (!hit) return undefined;
      if (hit.until > now()) return hit.body;
      views.delete(key);
      return undefined;
    },
    set(userId, jobId, body) {
      const key = id(userId, jobId);
      views.delete(key);
      views.set(key, { body, until: now() + ttlMs });
      if (views.size > maxEntries) views.delete(views.keys().next().value!);
    },
    forget(userId, jobId) {
      views.delete(id(userId, jobId));
    },
  };
}
