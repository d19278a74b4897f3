/**
 * The one list of error codes. The same strings are API error codes, Temporal
 * ApplicationFailure types, entries in retry policies' nonRetryableErrorTypes, and
 * what tests assert on. Pure data: workflows import it too.
 */
export const ErrorCode = {
  // Request problems (4xx)
  validationFailed: 'validation_failed',
  invalidJson: 'invalid_json',
  /** The URL path cannot be decoded (a malformed percent-encoding such as `%ED%A0%80` or `%zz`). */
  invalidPath: 'invalid_path',
  /** A list's `cursor` is not a `next_cursor` this API gave out. */
  invalidCursor: 'invalid_cursor',
  unauthorized: 'unauthorized',
  notFound: 'not_found',
  emailTaken: 'email_taken',
  idempotencyKeyReused: 'idempotency_key_reused',
  jobAlreadyFinished: 'job_already_finished',
  /** DELETE /jobs/{id}/outputs of a job still queued or running: its outputs are not stored yet. */
  jobNotFinished: 'job_not_finished',
  /** Cancel of a batch whose every item is already final. */
  batchAlreadyFinished: 'batch_already_finished',
  /** A redelivery of this webhook event is already running: wait for it (the deliveries list shows it). */
  redeliveryInProgress: 'redelivery_in_progress',
  /** Cancel of a prompt that already finished. */
  promptAlreadyFinished: 'prompt_already_finished',
  /** A multipart/form-data body that cannot be read (broken boundaries, an unexpected file field). */
  invalidMultipart: 'invalid_multipart',
  payloadTooLarge: 'payload_too_large',
  webhookSignatureInvalid: 'webhook_signature_invalid',
  rateLimited: 'rate_limited',
  /** The API key already holds SSE_MAX_STREAMS_PER_KEY open event streams on this API process. */
  tooManyStreams: 'too_many_streams',
  /** Revoking this API key would leave the account without one that keeps working: create or rotate one first. */
  lastApiKey: 'last_api_key',
  /** The API key is revoked or expired: it cannot be rotated. */
  apiKeyInactive: 'api_key_inactive',
  /** The account already has MAX_ACTIVE_API_KEYS keys that work: revoke one first. */
  tooManyApiKeys: 'too_many_api_keys',
  /** The request's API key is an old key in its rotation grace: it cannot create or rotate keys (use the new key). */
  apiKeyInGrace: 'api_key_in_grace',
  // Training and prompts
  invalidImages: 'invalid_images',
  paymentNotPaid: 'payment_not_paid',
  paymentAlreadyUsed: 'payment_already_used',
  /** The payment was refunded or is held by a dispute: it cannot start a training. */
  paymentRefunded: 'payment_refunded',
  planNotTrainable: 'plan_not_trainable',
  trainingInProgress: 'training_in_progress',
  versionNotReady: 'version_not_ready',
  versionBusy: 'version_busy',
  quotaExceeded: 'quota_exceeded',
  // Credits, the model catalog and uploads
  unknownModel: 'unknown_model',
  insufficientCredits: 'insufficient_credits',
  /** A refund or dispute took back credits or images that were already spent: new spending waits until they are paid. */
  accountInDebt: 'account_in_debt',
  unsupportedMediaType: 'unsupported_media_type',
  /** The user's stored uploads would exceed UPLOAD_QUOTA_BYTES. */
  storageQuotaExceeded: 'storage_quota_exceeded',
  /** The user already has MAX_OPEN_CHECKOUTS pending, unexpired checkouts (payments and credit packs). */
  tooManyOpenCheckouts: 'too_many_open_checkouts',
  /** The account already has MAX_ACTIVE_JOBS_PER_ACCOUNT generation jobs queued or running. */
  tooManyActiveJobs: 'too_many_active_jobs',
  /** The job's price is more than the `max_credits` the request allows; nothing was reserved. */
  maxCreditsExceeded: 'max_credits_exceeded',
  /** The job would take the API key past its monthly credit budget; nothing was reserved. */
  keyBudgetExceeded: 'key_budget_exceeded',
  // Server side (5xx)
  internal: 'internal_error',
  serviceUnavailable: 'service_unavailable',
  // Payments (Stripe): checkout could not be created; nothing usable was left behind
  paymentProviderUnavailable: 'payment_provider_unavailable',
  // Stripe refusals that no retry can fix: failure types of Stripe calls in activities (stripeCall preset)
  stripeInvalidRequest: 'stripe_invalid_request',
  stripeCardError: 'stripe_card_error',
  stripeAuthFailed: 'stripe_auth_failed',
  // Provider (Replicate) outcomes, recorded on jobs and used as failure types
  providerValidationFailed: 'provider_validation_failed',
  providerNotFound: 'provider_not_found',
  providerAuthFailed: 'provider_auth_failed',
  providerRateLimited: 'provider_rate_limited',
  providerUnavailable: 'provider_unavailable',
  predictionFailed: 'prediction_failed',
  predictionCanceled: 'prediction_canceled',
  predictionTimedOut: 'prediction_timed_out',
  /** The job's deadline (Cancel-After or `deadline`) passed before it was final: canceled, or aborted if it never started. */
  deadlineExceeded: 'deadline_exceeded',
  trainingFailed: 'training_failed',
  /** An uploaded training photo is gone from our bucket before the zip was built. */
  trainingPhotoMissing: 'training_photo_missing',
  outputMissing: 'output_missing',
  outputExpired: 'output_expired',
  /** An output URL (or a redirect) points outside the provider's delivery hosts, or to a private address. */
  outputUrlRefused: 'output_url_refused',
  /** A webhook URL we do not post to (not https in production, or a private address). */
  webhookUrlRefused: 'webhook_url_refused',
  /** One attempt to post an event to a webhook failed: no answer in time, or not a 2xx (retried with backoff). */
  webhookDeliveryFailed: 'webhook_delivery_failed',
  /** The webhook endpoint failed repeatedly and is paused: the delivery waits, without posting, until the pause ends. */
  webhookEndpointPaused: 'webhook_endpoint_paused',
  /** The webhook endpoint kept failing for WEBHOOK_DISABLE_AFTER_MS and is disabled: the delivery is given up (never retried). */
  webhookEndpointDisabled: 'webhook_endpoint_disabled',
  /** A worker step found no row for its job, prompt or model: the row was deleted under a running workflow. */
  jobNotFound: 'job_not_found',
  promptNotFound: 'prompt_not_found',
  versionNotFound: 'version_not_found',
  batchNotFound: 'batch_not_found',
  /** A job's uploaded input file is gone before the provider could be handed it. */
  inputFileMissing: 'input_file_missing',
  workflowLost: 'workflow_lost',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Provider failures that no retry can fix: the workflow fails fast on them. */
export const PROVIDER_NON_RETRYABLE: ErrorCode[] = [
  ErrorCode.providerValidationFailed,
  ErrorCode.providerNotFound,
  ErrorCode.providerAuthFailed,
];

/**
 * Findings of the training-photo inspection (POST /photos/inspect and the training upload), one
 * meaning each. They are not API error codes: they appear in `findings[].code`, each with a
 * severity (src/images/faces/findings.ts); an error among them makes the upload 422 `invalid_images`.
 */
export const PhotoFindingCode = {
  /** No face found in the photo. */
  noFace: 'no_face',
  /** More than one face that counts (others at least FACE_CHECK_OTHER_FACE_MIN_RATIO of the largest's width). */
  multipleFaces: 'multiple_faces',
  /** The face box covers less than FACE_CHECK_MIN_FACE_SHARE of the photo. */
  faceTooSmall: 'face_too_small',
  /** The face's variance of the Laplacian is below FACE_CHECK_MIN_SHARPNESS. */
  blurry: 'blurry',
  /** The face's mean luma is below FACE_CHECK_MIN_LUMA. */
  tooDark: 'too_dark',
  /** More than FACE_CHECK_MAX_CLIPPED of the face is blown out. */
  overexposed: 'overexposed',
  /** The face is farther than FACE_CHECK_MAX_DISTANCE from the set's medoid face: someone else. */
  differentPerson: 'different_person',
  /** The photo passed the header checks but could not be decoded or analyzed. */
  notInspected: 'not_inspected',
} as const;
