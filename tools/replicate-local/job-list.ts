import type { ServerContext } from './context';
import type { Job, JobKind } from './jobs';
import { badRequest } from './problem';

/** Replicate returns 100 predictions or trainings per page. */
const PAGE_SIZE = 100;

/** Where a page starts and which jobs are listed; carried in the opaque `cursor` of `next` / `previous` URLs. */
interface Cursor {
  /** `seq` of the job the page starts after (forward, older) or before (reverse, newer). */
  position: number;
  reverse: boolean;
  createdAfter: string | undefined;
  createdBefore: string | undefined;
}

export interface JobPage {
  next: string | null;
  previous: string | null;
  results: Job[];
}

/**
 * GET /predictions and GET /trainings: newest first, `created_after` (inclusive) and `created_before`
 * (exclusive) ISO date-times, and cursor pagination like Replicate's. A cursor points at a job rather
 * than an offset, so jobs created while a client pages through do not shift the pages it has not read;
 * it also carries the date filters, so `next` is just the list URL with `?cursor=`.
 */
export function listJobs(ctx: ServerContext, kind: JobKind, query: Record<string, unknown>): JobPage {
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const createdAfter = dateParam(query, 'created_after') ?? cursor?.createdAfter;
  const createdBefore = dateParam(query, 'created_before') ?? cursor?.createdBefore;
  const jobs = ctx.store.list(kind).filter((job) => inRange(job, createdAfter, createdBefore));
  const results = pageOf(jobs, cursor);
  const first = results[0]?.seq ?? cursor?.position ?? Infinity;
  const last = results.at(-1)?.seq ?? cursor?.position ?? Infinity;
  const url = (position: number, reverse: boolean) =>
    `${ctx.apiBaseUrl}/${kind}s?cursor=${encodeCursor({ position, reverse, createdAfter, createdBefore })}`;
  return {
    next: jobs.some((job) => job.seq < last) ? url(last, false) : null,
    previous: jobs.some((job) => job.seq > first) ? url(first, true) : null,
    results,
  };
}

/** The page after the cursor's job (older) or, for a reverse cursor, the page just before it (newer). */
function pageOf(newestFirst: Job[], cursor: Cursor | undefined): Job[] {
  if (!cursor) return newestFirst.slice(0, PAGE_SIZE);
  if (cursor.reverse) return newestFirst.filter((job) => job.seq > cursor.position).slice(-PAGE_SIZE);
  return newestFirst.filter((job) => job.seq < cursor.position).slice(0, PAGE_SIZE);
}

function inRange(job: Job, createdAfter: string | undefined, createdBefore: string | undefined): boolean {
  const created = job.createdAt.getTime();
  if (createdAfter && created < Date.parse(createdAfter)) return false;
  return !(createdBefore && created >= Date.parse(createdBefore));
}

/** An ISO 8601 date-time query parameter, normalized; 400 if it is not one. */
function dateParam(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  const time = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw badRequest(`${name} must be an ISO 8601 date-time, e.g. 2025-01-01T00:00:00Z`);
  return new Date(time).toISOString();
}

function encodeCursor(cursor: Cursor): string {
  const { position, reverse, createdAfter: a, createdBefore: b } = cursor;
  return Buffer.from(JSON.stringify({ p: position, ...(reverse && { r: 1 }), ...(a && { a }), ...(b && { b }) })).toString('base64url');
}

function decodeCursor(raw: unknown): Cursor {
  try {
    const { p, r, a, b } = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')) as Record<string, unknown>;
    if (typeof p !== 'number') throw new Error('no position');
    const date = (value: unknown) => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? value : undefined);
    return { position: p, reverse: r === 1, createdAfter: date(a), createdBefore: date(b) };
  } catch {
    throw badRequest('Invalid cursor: use the `next` or `previous` URL of a list response.');
  }
}
