import { proxyActivities } from '@temporalio/workflow';
import type { DatabaseActivities } from '../activities';
import { outputExpiry } from './activity-options';

export interface ExpireOutputsInput {
  /** Outputs deleted per activity (one S3 DeleteObjects). */
  pageSize: number;
  /** Pages one run deletes at most; a longer backlog is worked off by the next runs. */
  maxPages: number;
}

/**
 * Runs on a Temporal Schedule (expire-outputs-<task queue>, src/temporal/schedules.ts): deletes
 * the job outputs whose `expires_at` has passed from our bucket, page by page, oldest expiry
 * first, and marks their rows deleted (the metadata and the ledger stay). Every page is
 * idempotent: a retried page deletes keys already gone, which S3 accepts.
 */
export async function expireOutputs(input: ExpireOutputsInput): Promise<{ deleted: number }> {
  const acts = proxyActivities<DatabaseActivities>(outputExpiry);
  let deleted = 0;
  for (let page = 0; page < input.maxPages; page++) {
    const n = await acts.expireOutputsPage({ limit: input.pageSize });
    deleted += n;
    if (n < input.pageSize) break;
  }
  return { deleted };
}
