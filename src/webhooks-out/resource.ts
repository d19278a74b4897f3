import type { Db } from '../db/client';
import { AppError } from '../errors';
import type { ResourceRef } from '../events/types';
import { jobView } from '../jobs/serialize';
import { getOwnJob } from '../jobs/rows';
import { promptView } from '../prompts/views';
import { getOwnPrompt } from '../prompts/rows';
import type { Storage } from '../storage/s3';
import { versionView } from '../training/views';
import { getOwnBatch } from '../batches/rows';
import { batchView } from '../batches/views';

export interface ResourceHead {
  userId: string;
  webhook: string | null;
  webhookEventsFilter: string[];
}

/**
 * The owner and webhook of a job, prompt or model version; with `userId`, only that user's
 * (another user's resource is 404 for them, as on its GET).
 */
export async function resourceHead(db: Db, ref: ResourceRef, userId?: string): Promise<ResourceHead | null> {
  const where = { id: ref.resourceId, ...(userId ? { userId } : {}) };
  const select = { userId: true, webhook: true, webhookEventsFilter: true } as const;
  if (ref.resourceType === 'job') return db.job.findFirst({ where, select });
  if (ref.resourceType === 'prompt') return db.prompt.findFirst({ where, select });
  if (ref.resourceType === 'batch') return db.batch.findFirst({ where, select });
  return db.modelVersion.findFirst({ where, select });
}

export async function ownResourceHead(db: Db, ref: ResourceRef, userId: string): Promise<ResourceHead> {
  const head = await resourceHead(db, ref, userId);
  if (!head) throw AppError.notFound(NAMES[ref.resourceType]);
  return head;
}

const NAMES = { job: 'Job', prompt: 'Prompt', version: 'Model', batch: 'Batch' } as const;

/** The resource as its owner's GET returns it: what a webhook delivery posts. */
export async function resourceBody(db: Db, storage: Storage, ref: ResourceRef, userId: string): Promise<object> {
  if (ref.resourceType === 'job') return jobView(storage, await getOwnJob(db, userId, ref.resourceId));
  if (ref.resourceType === 'prompt') return promptView(storage, await getOwnPrompt(db, userId, ref.resourceId));
  if (ref.resourceType === 'batch') return batchView(await getOwnBatch(db, userId, ref.resourceId));
  const version = await db.modelVersion.findFirst({ where: { id: ref.resourceId, userId } });
  if (!version) throw AppError.notFound('Model');
  return versionView(version);
}
