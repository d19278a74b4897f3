import { FINISHED } from '../jobs/rows';
import { iso } from '../shared/dates';
import type { Batch } from '../generated/prisma/client';
import type { BatchWithJobs, RejectedItem } from './rows';

export const batchStatus = (b: Batch) => (b.completedAt ? 'completed' : b.submittedAt ? 'running' : 'submitting');

/** The public shape of a batch: its counts and one entry per item, by index. */
export function batchView(b: BatchWithJobs) {
  const rejected = b.rejected as unknown as RejectedItem[];
  const byIndex = new Map(b.jobs.map((j) => [j.batchIndex, j]));
  const rejectedByIndex = new Map(rejected.map((r) => [r.index, r]));
  const counts: Record<string, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, canceled: 0, aborted: 0 };
  for (const j of b.jobs) counts[j.status] = (counts[j.status] ?? 0) + 1;
  const items = Array.from({ length: b.size }, (_, index) => {
    const job = byIndex.get(index);
    if (job) {
      return {
        index,
        job_id: job.id,
        status: job.status as string,
        error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null,
        credits_spent: job.creditsSpent,
      };
    }
    const refused = rejectedByIndex.get(index);
    return {
      index,
      job_id: null,
      status: refused ? 'rejected' : 'pending',
      error: refused ? { code: refused.error.code, message: refused.error.message, http_status: refused.status, ...(refused.error.details === undefined ? {} : { details: refused.error.details }) } : null,
      credits_spent: null,
    };
  });
  return {
    batch_id: b.id,
    kind: b.kind as 'job',
    status: batchStatus(b),
    size: b.size,
    counts: { ...counts, created: b.jobs.length, rejected: items.filter((i) => i.status === 'rejected').length, final: b.jobs.filter((j) => FINISHED.has(j.status)).length },
    webhook: b.webhook,
    created_at: b.createdAt.toISOString(),
    submitted_at: iso(b.submittedAt),
    completed_at: iso(b.completedAt),
    items,
  };
}
