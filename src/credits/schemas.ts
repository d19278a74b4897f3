import { z } from 'zod';

/** Request schemas of the credits API. The routes validate with these. */

export const creditCheckoutBody = z.strictObject({
  pack_id: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
});

export const purchaseIdParam = z.object({ purchase_id: z.uuid({ message: 'must be a purchase id (UUID)' }) });

export const usageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});
