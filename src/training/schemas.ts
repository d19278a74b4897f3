import { z } from 'zod';

/** Request schemas of the training and versions API. The routes validate with these. */

export const paymentIdParam = z.object({ payment_id: z.uuid({ message: 'must be a payment id (UUID)' }) });
export const versionIdParam = z.object({ version_id: z.uuid({ message: 'must be a model version id (UUID)' }) });
export const listVersionsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
