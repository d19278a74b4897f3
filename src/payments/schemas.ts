import { z } from 'zod';

/** Request schemas of the payments API. The routes validate with these. */

export const createPaymentBody = z.strictObject({
  plan_id: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters'),
  /** A customer-facing promotion code ("SPRING10") or a Stripe promotion-code id ("promo_..."). */
  promocode_id: z
    .string()
    .trim()
    .min(1, 'must not be empty; leave the field out for no promotion code')
    .max(100, 'must be at most 100 characters')
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .nullish()
    .transform((v) => v ?? undefined),
  /** For an add-on plan: the caller's trained model that receives the images. */
  version_id: z
    .uuid({ message: 'must be a model id (UUID)' })
    .nullish()
    .transform((v) => v ?? undefined),
});
export type CreatePaymentBody = z.output<typeof createPaymentBody>;

export const paymentIdParam = z.object({ payment_id: z.uuid({ message: 'must be a payment id (UUID)' }) });
