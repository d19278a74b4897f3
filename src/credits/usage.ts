import type { Db } from '../db/client';
import { afterCursor, decodeCursor, page } from '../shared/pagination';

/** The caller's jobs with what each cost, newest first, a keyset page at a time. */
export async function listUsage(db: Db, userId: string, q: { limit: number; cursor?: string }) {
  const rows = await db.job.findMany({
    where: { userId, ...afterCursor(decodeCursor(q.cursor)) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    select: { id: true, model: true, status: true, creditsSpent: true, createdAt: true, completedAt: true },
  });
  return page(rows, q.limit);
}
export type UsageRow = Awaited<ReturnType<typeof listUsage>>['items'][number];
