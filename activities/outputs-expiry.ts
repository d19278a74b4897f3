import type { Db } from '../src/db/client';
import { expireOutputsPage } from '../src/jobs/outputs';
import type { Storage } from '../src/storage/s3';

/** Output expiry (database group, outputExpiry preset): one page of expired outputs deleted. */
export function createOutputExpiryActivities(deps: { db: Db; storage: Storage }) {
  return {
    async expireOutputsPage(req: { limit: number }): Promise<number> {
      return expireOutputsPage(deps, req.limit);
    },
  };
}
