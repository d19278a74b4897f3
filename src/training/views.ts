import type { ModelVersion } from '../generated/prisma/client';

/** The public shape of a user's model, with its image quota. */
export function versionView(v: ModelVersion) {
  return {
    version_id: v.id,
    status: v.status,
    ...(v.progress === null ? {} : { progress: v.progress }),
    trigger_word: v.triggerWord,
    plan_id: v.planId,
    payment_id: v.paymentId,
    image_count: v.imageCount,
    images_total: v.imagesTotal,
    images_used: v.imagesUsed,
    images_reserved: v.imagesReserved,
    images_left: v.imagesTotal - v.imagesUsed - v.imagesReserved,
    created_at: v.createdAt.toISOString(),
    trained_at: v.trainedAt?.toISOString() ?? null,
    error: v.errorCode ? { code: v.errorCode, message: v.errorMessage ?? '' } : null,
    ...(v.status === 'succeeded' ? { provider_model: v.providerModel, provider_version: v.providerVersion } : {}),
  };
}
