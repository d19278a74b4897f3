import { AppError, ErrorCode } from '../errors';

/** Keyset pagination, newest first: the cursor is the (created_at, id) of the last item seen. */
export interface Cursor {
  createdAt: Date;
  id: string;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What encodeCursor writes: Date#toISOString, so a crafted date (year 275760, `2024-02-31`) is refused, not sent to Postgres. */
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** 400 invalid_cursor for anything encodeCursor did not write (ids are uuid columns: a crafted one must not reach SQL). */
export function decodeCursor(raw: string | undefined): Cursor | undefined {
  if (!raw) return undefined;
  const parts = Buffer.from(raw, 'base64url').toString().split('|');
  const [iso = '', id = ''] = parts;
  const createdAt = new Date(iso);
  if (parts.length !== 2 || !ISO.test(iso) || Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== iso || !UUID.test(id)) {
    throw new AppError(400, ErrorCode.invalidCursor, 'cursor is not valid; pass next_cursor from the previous page', { field: 'cursor' });
  }
  return { createdAt, id };
}

/** The Prisma `where` clause for "after this cursor" in (created_at DESC, id DESC) order. */
export function afterCursor(c: Cursor | undefined) {
  if (!c) return {};
  return { OR: [{ createdAt: { lt: c.createdAt } }, { createdAt: c.createdAt, id: { lt: c.id } }] };
}

export function page<T extends { createdAt: Date; id: string }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
