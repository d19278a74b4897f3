import { z } from 'zod';
import { generateBody } from '../jobs/schemas';
import { webhookFields } from '../webhooks-out/request';

/** The most items one batch takes. */
export const MAX_BATCH_ITEMS = 100;

export const createBatchBody = z.strictObject({
  jobs: z
    .array(generateBody)
    .min(1)
    .max(MAX_BATCH_ITEMS)
    .meta({ description: `1 to ${MAX_BATCH_ITEMS} bodies of POST /api/v1/generate; each becomes one job (its index is its place here)` }),
  webhook: webhookFields.webhook.meta({ description: 'Receives the batch (as GET /api/v1/batches/{batch_id} shows it) once, when every item is final' }),
});
export type CreateBatchBody = z.output<typeof createBatchBody>;

export const batchIdParam = z.object({ batch_id: z.uuid({ message: 'must be a batch id (UUID)' }) });
