import { creditsFor } from '../catalog/service';
import type { Db } from '../db/client';
import type { Job } from '../generated/prisma/client';
import { afterCursor, decodeCursor, page } from '../shared/pagination';

/** The caller's jobs with what each cost, newest first, a keyset page at a time. */
export async function listUsage(db: Db, userId: string, q: { limit: number; cursor?: string }) {
  const rows = await db.job.findMany({
    where: { userId, ...afterCursor(decodeCursor(q.cursor)) },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: q.limit + 1,
    select: { id: true, model: true, status: true, creditsSpent: true, numOutputs: true, priceUnit: true, priceCredits: true, createdAt: true, completedAt: true },
  });
  return page(rows, q.limit);
}
export type UsageRow = Awaited<ReturnType<typeof listUsage>>['items'][number];

/**
 * The credits a job holds now: while it is queued or running, its reservation (its maximum
 * cost, from the price stored on the job: no query); once it finished, 0, since its final
 * status and the settlement of its credits are written in one transaction.
 */
export function creditsReserved(job: Pick<Job, 'status' | 'priceUnit' | 'priceCredits' | 'numOutputs'>): number {
  if ((job.status !== 'queued' && job.status !== 'running') || !job.priceUnit) return 0;
  return creditsFor({ priceUnit: job.priceUnit, priceCredits: job.priceCredits ?? 0 }, job.numOutputs);
}
