import { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { creditCheckoutBody, purchaseIdParam, usageQuery } from '../../credits/schemas';
import { ErrorCode } from '../../error-codes';
import { formatBytes } from '../../images/format';
import { DEFAULT_IMAGE_RULES } from '../../images/validate';
import { downloadQuery, generateBody, jobIdParam, listJobsQuery } from '../../jobs/schemas';
import { createPaymentBody, paymentIdParam } from '../../payments/schemas';
import { createPromptBody, listPromptsQuery, promptIdParam } from '../../prompts/schemas';
import { CompletedCheckout, completeCheckoutBody, ConsoleConfig } from '../routes/console';
import { ApiKey, ApiKeyList, CreatedApiKey, createKeyBody, keyIdParam, RotatedApiKey, updateKeyBody } from '../routes/keys';
import { generateHeaders } from '../routes/jobs';
import { promptHeaders } from '../routes/prompts';
import { Quote } from '../routes/quote';
import { createUserBody } from '../routes/users';
import { quoteBody } from '../../quotes/quote';
import { deliveriesQuery, deliveryIdParam, reenableEndpointBody, testWebhookBody, WebhookEndpoint } from '../routes/webhook-deliveries';
import { batchHeaders } from '../routes/batches';
import { batchIdParam, createBatchBody, MAX_BATCH_ITEMS } from '../../batches/schemas';
import { WEBHOOK_FILTERS } from '../../events/types';
import { listVersionsQuery, paymentIdParam as trainPaymentIdParam, versionIdParam } from '../../training/schemas';
import * as R from './responses';
import { API_KEY_SCHEME, binaryFile, toRouteConfig, type ApiRoute } from './route';

/**
 * Every HTTP route of the API, in the order of src/http/routes/*. Request schemas are the
 * very objects the routes validate with; response schemas live in ./responses.ts.
 *
 * To document a new route: add one entry to `apiRoutes` below (test/api/openapi.test.ts
 * fails for any route of the Express app that has none). 401, 422 validation_failed, 429, 500
 * and the JSON parser's 400/413/415 are added for you (see toRouteConfig); list the other error
 * codes it answers in `errors`.
 */
export const apiRoutes: ApiRoute[] = [
  // -- src/http/routes/health.ts ----------------------------------------------------------------
  {
    method: 'get',
    path: '/health',
    operationId: 'getLiveness',
    tag: 'Health',
    summary: 'Liveness: the process answers',
    public: true,
    responses: { 200: { description: 'Alive', json: R.Liveness } },
  },
  {
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    tag: 'Health',
    summary: 'Readiness: one verdict per dependency',
    public: true,
    responses: {
      200: { description: 'Every dependency is up', json: R.Readiness },
      503: { description: 'At least one dependency is down', json: R.Readiness },
    },
  },

  // -- src/http/routes/users.ts -----------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/users',
    operationId: 'createUser',
    tag: 'Accounts',
    summary: 'Create an account and its API key',
    public: true,
    request: { json: createUserBody },
    responses: { 201: { description: 'Created; the API key is shown only now', json: R.CreatedUser } },
    errors: { 409: [ErrorCode.emailTaken] },
  },

  // -- src/http/routes/plans.ts -----------------------------------------------------------------
  {
    method: 'get',
    path: '/api/v1/plans',
    operationId: 'listPlans',
    tag: 'Payments',
    summary: 'The plans that can be bought',
    public: true,
    responses: { 200: { description: 'Active plans', json: R.PlanList } },
  },

  // -- src/http/routes/jobs.ts ------------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/generate',
    operationId: 'submitJob',
    tag: 'Jobs',
    summary: 'Start a generation job on a catalog model',
    description:
      'Runs one of the models of GET /api/v1/models, which says what input each takes (a prompt, an `input_file` from ' +
      'POST /api/v1/uploads) and its price. The maximum cost is reserved from your credits (402 if they do not cover it); ' +
      'what the job really cost is charged when it finishes. Answers at once: poll the Location (GET /api/v1/status/{job_id}). ' +
      'With `Prefer: wait[=N]` the answer waits until the job is final (201 with it) or N seconds passed (202 with the job as it is); ' +
      'a retry with the same Idempotency-Key waits for the same job. `max_credits` refuses a higher price (402, with the quote); ' +
      'the API key\'s monthly credit budget, if it has one, refuses a job past it (402). `Cancel-After` or `deadline` cancels the job if it is not final in time.',
    request: {
      json: generateBody,
      headers: generateHeaders,
    },
    responses: {
      201: {
        description: 'With Prefer: wait, the job finished (succeeded, failed, canceled or aborted) within the wait',
        json: R.Job,
        location: 'The job status: /api/v1/status/{job_id}',
        headers: {
          'Preference-Applied': '`wait=N`: the request was held for at most N seconds',
          'Idempotent-Replayed': '`true` when an earlier request with the same Idempotency-Key made this job',
          'Server-Timing': 'Where the answer\'s time went before the wait, in ms: `db` and `temporal`',
        },
      },
      202: {
        description:
          'Queued (or, with a replayed Idempotency-Key, the job the first request made): `{job_id, status}`; with Prefer: wait, the whole job, still queued or running when the wait ended',
        json: z.union([R.JobAccepted, R.Job]),
        location: 'The job status: /api/v1/status/{job_id}',
        headers: {
          'Preference-Applied': '`wait=N` with Prefer: wait: the request was held for N seconds and the job is not final yet',
          'Idempotent-Replayed': '`true` when an earlier request with the same Idempotency-Key made this job',
          'Server-Timing': 'Where the answer\'s time went, in ms: `db` (recording the job and reserving its credits, one statement) and `temporal` (starting its workflow)',
        },
      },
    },
    errors: {
      402: [ErrorCode.insufficientCredits, ErrorCode.accountInDebt, ErrorCode.maxCreditsExceeded, ErrorCode.keyBudgetExceeded],
      422: [ErrorCode.unknownModel, ErrorCode.idempotencyKeyReused],
      429: [ErrorCode.tooManyActiveJobs],
      503: [ErrorCode.serviceUnavailable],
    },
  },
  {
    method: 'get',
    path: '/api/v1/status/{job_id}',
    operationId: 'getJob',
    tag: 'Jobs',
    summary: 'A job, with its outputs once it succeeded',
    request: { params: jobIdParam },
    responses: { 200: { description: 'The job', json: R.Job } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'get',
    path: '/api/v1/jobs',
    operationId: 'listJobs',
    tag: 'Jobs',
    summary: 'Your jobs, newest first',
    request: { query: listJobsQuery },
    responses: { 200: { description: 'A page of jobs', json: R.JobList } },
  },
  {
    method: 'get',
    path: '/api/v1/jobs/{job_id}/metadata',
    operationId: 'getJobMetadata',
    tag: 'Jobs',
    summary: 'Provider input, ids and timings of a job',
    request: { params: jobIdParam },
    responses: { 200: { description: 'The job metadata', json: R.JobMetadata } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'delete',
    path: '/api/v1/jobs/{job_id}',
    operationId: 'cancelJob',
    tag: 'Jobs',
    summary: 'Cancel a queued or running job',
    request: { params: jobIdParam },
    responses: {
      202: { description: 'Cancellation requested; the job becomes `canceled`', json: R.JobCancelRequested, location: 'The job status: /api/v1/status/{job_id}' },
    },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.jobAlreadyFinished] },
  },
  {
    method: 'delete',
    path: '/api/v1/jobs/{job_id}/outputs',
    operationId: 'deleteJobOutputs',
    tag: 'Jobs',
    summary: "Delete a finished job's output files now",
    description:
      'Removes the files from our bucket before their `expires_at`. The job, its outputs\' metadata (size, sha256, dimensions) and ' +
      'what it cost stay; each output shows `deleted_at` and `url: null`, and its download is 404. Deleting again changes nothing.',
    request: { params: jobIdParam },
    responses: { 200: { description: 'The job, its outputs marked deleted', json: R.Job } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.jobNotFinished], 503: [ErrorCode.serviceUnavailable] },
  },
  {
    method: 'get',
    path: '/api/v1/download/{job_id}',
    operationId: 'downloadJobOutput',
    tag: 'Jobs',
    summary: 'The bytes of one output of a job',
    request: { params: jobIdParam, query: downloadQuery },
    responses: {
      200: {
        description: 'The output (its content_type), as an attachment',
        content: Object.fromEntries(['image/*', 'audio/*', 'video/*'].map((type) => [type, { schema: binaryFile }])),
        headers: { 'Content-Disposition': 'attachment; filename="<job_id>-<index>.<ext>"' },
      },
    },
    errors: { 404: [ErrorCode.notFound] },
  },

  // -- src/http/routes/payments.ts --------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/payments/create',
    operationId: 'createPayment',
    tag: 'Payments',
    summary: 'Buy a plan: creates a Stripe Checkout session',
    description: 'A base plan (`is_init`) pays for training a new model; an add-on plan needs `version_id`, one of your trained models.',
    request: { json: createPaymentBody },
    responses: { 201: { description: 'Pending until paid at `checkout_url`', json: R.CreatedPayment, location: 'The payment: /api/v1/payments/{payment_id}' } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.tooManyOpenCheckouts], 502: [ErrorCode.paymentProviderUnavailable], 503: [ErrorCode.paymentProviderUnavailable] },
  },
  {
    method: 'get',
    path: '/api/v1/payments/{payment_id}',
    operationId: 'getPayment',
    tag: 'Payments',
    summary: 'A payment and its plan',
    request: { params: paymentIdParam },
    responses: { 200: { description: 'The payment', json: R.Payment } },
    errors: { 404: [ErrorCode.notFound] },
  },

  // -- src/http/routes/versions.ts --------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/versions/train/{payment_id}',
    operationId: 'trainModel',
    tag: 'Models',
    summary: 'Upload photos and train a model with a paid base plan',
    description:
      'Every photo is checked first and all problems are reported at once (422 `invalid_images`); nothing is consumed on a rejection. ' +
      'The training runs as a durable workflow: poll the Location.',
    request: {
      params: trainPaymentIdParam,
      // Read with busboy and checked by src/images/validate.ts, not by a zod schema: this one only describes the form.
      multipart: z.object({
        images: z.array(binaryFile).meta({
          description:
            `The training photos (JPEG, PNG or WebP), one file per \`images\` part. Default limits (configurable): ` +
            `${DEFAULT_IMAGE_RULES.minImages}-${DEFAULT_IMAGE_RULES.maxImages} photos, each at most ${formatBytes(DEFAULT_IMAGE_RULES.maxFileBytes)} ` +
            `and at least ${DEFAULT_IMAGE_RULES.minSide} px on its short side, ${formatBytes(DEFAULT_IMAGE_RULES.maxTotalBytes)} in total.`,
        }),
        trigger_word: z.string().optional().meta({
          description: 'The word that invokes the subject in prompts: 2-32 letters, digits or underscores, starting with a letter. Defaults to `TOK`.',
          example: 'TOK',
        }),
        webhook: z.string().optional().meta({ description: 'An https URL we POST the model to on its events (GET /api/v1/webhooks/secret verifies them).' }),
        webhook_events_filter: z.string().optional().meta({ description: `Comma-separated events for \`webhook\`: ${WEBHOOK_FILTERS.join(', ')} (default: all).`, example: 'start,completed' }),
      }),
    },
    responses: {
      202: { description: 'Photos stored and training queued', json: R.TrainingAccepted, location: 'The model: /api/v1/versions/info/{version_id}' },
    },
    errors: {
      400: [ErrorCode.invalidMultipart],
      404: [ErrorCode.notFound],
      409: [ErrorCode.paymentNotPaid, ErrorCode.paymentAlreadyUsed, ErrorCode.trainingInProgress, ErrorCode.paymentRefunded],
      413: [ErrorCode.payloadTooLarge],
      415: [ErrorCode.unsupportedMediaType],
      422: [ErrorCode.invalidImages, ErrorCode.planNotTrainable],
      503: [ErrorCode.serviceUnavailable],
    },
  },
  {
    method: 'post',
    path: '/api/v1/photos/inspect',
    operationId: 'inspectPhotos',
    tag: 'Models',
    summary: 'Inspect training photos before paying: faces, sharpness, exposure, the same person',
    description:
      'The training upload\'s checks on the same form, answered and nothing started: the header checks of every file, then per photo ' +
      'exactly one face, large enough, sharp and well exposed, and across the set the same person. Every finding names its photo ' +
      '(`index`, `filename`) and is an `error` (the training upload refuses the set with 422 `invalid_images`) or a `warning`. ' +
      'The work runs on a few inspection threads that accounts take turns on; 429 `rate_limited` when your earlier photos are still ' +
      'waiting, 503 `service_unavailable` when the queue is full (both with Retry-After).',
    request: {
      multipart: z.object({
        images: z.array(binaryFile).meta({ description: 'The photos, one file per `images` part, with the training upload\'s limits.' }),
      }),
    },
    responses: {
      200: { description: 'The findings (`ok` is false when there is an error)', json: R.PhotoInspection },
    },
    errors: {
      400: [ErrorCode.invalidMultipart],
      413: [ErrorCode.payloadTooLarge],
      415: [ErrorCode.unsupportedMediaType],
      503: [ErrorCode.serviceUnavailable],
    },
  },
  {
    method: 'get',
    path: '/api/v1/versions/info/{version_id}',
    operationId: 'getModel',
    tag: 'Models',
    summary: 'A model: training status and image quota',
    request: { params: versionIdParam },
    responses: { 200: { description: 'The model', json: R.Version } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'get',
    path: '/api/v1/versions',
    operationId: 'listModels',
    tag: 'Models',
    summary: 'Your models, newest first',
    request: { query: listVersionsQuery },
    responses: { 200: { description: 'A page of models', json: R.VersionList } },
  },

  // -- src/http/routes/prompts.ts ---------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/prompts/create/{version_id}',
    operationId: 'createPrompt',
    tag: 'Prompts',
    summary: 'Generate images with a trained model',
    description:
      'One prompt runs per model at a time. The images are reserved from the model quota and charged when they are delivered. ' +
      'With `Prefer: wait[=N]` the answer waits until the prompt is final (201 with it and its images) or N seconds passed (202 with the prompt as it is). ' +
      '`Cancel-After` or `deadline` cancels the prompt if it is not final in time (`aborted` if it never started), releasing its images.',
    request: { params: versionIdParam, json: createPromptBody, headers: promptHeaders },
    responses: {
      201: {
        description: 'With Prefer: wait, the prompt finished within the wait',
        json: R.Prompt,
        location: 'The prompt: /api/v1/prompts/{prompt_id}',
        headers: { 'Preference-Applied': '`wait=N`: the request was held for at most N seconds' },
      },
      202: {
        description: 'Queued: `{prompt_id, status}`; with Prefer: wait, the whole prompt, still queued or running when the wait ended',
        json: z.union([R.PromptAccepted, R.Prompt]),
        location: 'The prompt: /api/v1/prompts/{prompt_id}',
        headers: { 'Preference-Applied': '`wait=N` with Prefer: wait: the request was held for N seconds and the prompt is not final yet' },
      },
    },
    errors: {
      402: [ErrorCode.quotaExceeded],
      404: [ErrorCode.notFound],
      409: [ErrorCode.versionNotReady, ErrorCode.versionBusy],
      503: [ErrorCode.serviceUnavailable],
    },
  },
  {
    method: 'get',
    path: '/api/v1/prompts/list/{version_id}',
    operationId: 'listPrompts',
    tag: 'Prompts',
    summary: "A model's prompts with their images, newest first",
    request: { params: versionIdParam, query: listPromptsQuery },
    responses: { 200: { description: 'A page of prompts', json: R.PromptList } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'get',
    path: '/api/v1/prompts/{prompt_id}',
    operationId: 'getPrompt',
    tag: 'Prompts',
    summary: 'A prompt, with its images once it succeeded',
    request: { params: promptIdParam },
    responses: { 200: { description: 'The prompt', json: R.Prompt } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'delete',
    path: '/api/v1/prompts/{prompt_id}',
    operationId: 'cancelPrompt',
    tag: 'Prompts',
    summary: 'Cancel a queued or running prompt; its reserved images are released',
    request: { params: promptIdParam },
    responses: { 202: { description: 'Cancellation requested', json: R.PromptCancelRequested, location: 'The prompt: /api/v1/prompts/{prompt_id}' } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.promptAlreadyFinished] },
  },

  // -- src/http/routes/credits.ts (with models.ts and uploads.ts) --------------------------------
  {
    method: 'get',
    path: '/api/v1/balance',
    operationId: 'getBalance',
    tag: 'Credits',
    summary: 'Your credits',
    responses: { 200: { description: 'The balance', json: R.Balance } },
  },
  {
    method: 'get',
    path: '/api/v1/credit-packs',
    operationId: 'listCreditPacks',
    tag: 'Credits',
    summary: 'The credit packs that can be bought',
    responses: { 200: { description: 'Active packs', json: R.CreditPackList } },
  },
  {
    method: 'post',
    path: '/api/v1/credits/checkout',
    operationId: 'buyCredits',
    tag: 'Credits',
    summary: 'Buy a credit pack: creates a Stripe Checkout session',
    request: { json: creditCheckoutBody },
    responses: {
      201: { description: 'Pending until paid at `checkout_url`', json: R.CreatedCreditPurchase, location: 'The purchase: /api/v1/credits/purchases/{purchase_id}' },
    },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.tooManyOpenCheckouts], 502: [ErrorCode.paymentProviderUnavailable], 503: [ErrorCode.paymentProviderUnavailable] },
  },
  {
    method: 'get',
    path: '/api/v1/credits/purchases/{purchase_id}',
    operationId: 'getCreditPurchase',
    tag: 'Credits',
    summary: 'A credit purchase and its pack',
    request: { params: purchaseIdParam },
    responses: { 200: { description: 'The purchase', json: R.CreditPurchase } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'get',
    path: '/api/v1/usage',
    operationId: 'listUsage',
    tag: 'Credits',
    summary: 'Your jobs with what each cost, newest first',
    request: { query: usageQuery },
    responses: { 200: { description: 'A page of usage', json: R.UsageList } },
  },
  {
    method: 'get',
    path: '/api/v1/models',
    operationId: 'listCatalogModels',
    tag: 'Jobs',
    summary: 'The models POST /api/v1/generate runs, with their inputs and prices',
    responses: { 200: { description: 'Active catalog models', json: R.CatalogModelList } },
  },
  {
    method: 'post',
    path: '/api/v1/uploads',
    operationId: 'createUpload',
    tag: 'Jobs',
    summary: 'Upload a job input file',
    description: 'Pass the returned `upload_id` as `input_file` to POST /api/v1/generate. The type is read from the bytes, whatever the file name.',
    request: {
      // Read with busboy and checked by src/uploads/service.ts, not by a zod schema: this one only describes the form.
      multipart: z.object({
        file: binaryFile.meta({
          description:
            'One image (JPEG, PNG, WebP, GIF), audio (WAV, MP3, FLAC, OGG) or video (MP4, WebM) file, within the size limit of its kind ' +
            '(UPLOAD_MAX_IMAGE_BYTES, UPLOAD_MAX_AUDIO_BYTES, UPLOAD_MAX_VIDEO_BYTES).',
        }),
      }),
    },
    responses: { 201: { description: 'Stored', json: R.CreatedUpload } },
    errors: {
      400: [ErrorCode.invalidMultipart],
      413: [ErrorCode.payloadTooLarge, ErrorCode.storageQuotaExceeded],
      415: [ErrorCode.unsupportedMediaType],
    },
  },

  // -- src/http/routes/console.ts (with tools/dev/console-checkout.ts) ----------------------------
  {
    method: 'get',
    path: '/api/v1/console-config',
    operationId: 'getConsoleConfig',
    tag: 'Payments',
    summary: 'What the web console needs to know about this API',
    public: true,
    responses: { 200: { description: 'The console settings', json: ConsoleConfig } },
  },
  {
    method: 'post',
    path: '/api/v1/dev/complete-checkout',
    operationId: 'completeTestCheckout',
    tag: 'Payments',
    summary: 'Development only: complete a checkout with a signed test event',
    description:
      'Outside production (404 in production): sends the checkout.session.completed event `npm run stripe:complete` sends, ' +
      'signed with the server\'s webhook secret, through the Stripe webhook handler. For local use against stripe-mock.',
    request: { json: completeCheckoutBody },
    responses: { 200: { description: 'The event was applied', json: CompletedCheckout } },
    errors: { 404: [ErrorCode.notFound] },
  },

  // -- src/http/routes/events.ts ----------------------------------------------------------------
  ...(['job', 'prompt', 'version'] as const).map((kind): ApiRoute => ({
    method: 'get',
    path: `/api/v1/${kind}s/{${kind}_id}/events`,
    operationId: `stream${kind[0]!.toUpperCase()}${kind.slice(1)}Events`,
    tag: 'Notifications',
    summary: `Live progress of a ${kind === 'version' ? 'training' : kind} as Server-Sent Events`,
    description:
      'One SSE event per change: `id:` the event id, `event:` its type (`status`, `progress`, `output`, `completed`), `data:` JSON. ' +
      'The stream ends after `completed`; a comment line every 15 s keeps it open. Send `Last-Event-ID` to resume after an event (`curl -N`). ' +
      'A finished resource with nothing after `Last-Event-ID` answers 204 (EventSource stops reconnecting). A stream ends after `SSE_MAX_LIFETIME_MS` ' +
      '(default 10 min) with a `retry:` line, to be resumed with `Last-Event-ID`, and at once when its API key is revoked. ' +
      'An API key may hold `SSE_MAX_STREAMS_PER_KEY` (default 10) open streams per API process.',
    request: {
      params: kind === 'job' ? jobIdParam : kind === 'prompt' ? promptIdParam : versionIdParam,
      headers: z.object({ 'Last-Event-ID': z.string().optional().meta({ description: 'Resume after this event id' }) }),
    },
    responses: {
      200: { description: 'The event stream', content: { 'text/event-stream': { schema: z.string() } } },
      204: { description: 'The resource is finished and has no event after Last-Event-ID' },
    },
    errors: { 404: [ErrorCode.notFound], 429: [ErrorCode.tooManyStreams], 503: [ErrorCode.serviceUnavailable] },
  })),
  // -- src/http/routes/webhook-deliveries.ts ----------------------------------------------------
  {
    method: 'get',
    path: '/api/v1/webhooks/secret',
    operationId: 'getWebhookSecret',
    tag: 'Notifications',
    summary: 'Your webhook signing secret',
    description:
      'Every webhook we send carries `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">` ' +
      '(Standard Webhooks), keyed with the base64 part of this `whsec_` secret. Created on first use.',
    responses: { 200: { description: 'The secret', json: z.object({ key: z.string().meta({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }) }) } },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/secret/rotate',
    operationId: 'rotateWebhookSecret',
    tag: 'Notifications',
    summary: 'Replace your webhook signing secret; the old one keeps signing for a grace period',
    description:
      'Until `previous_expires_at` (WEBHOOK_SECRET_ROTATION_GRACE_SECONDS) every webhook carries two signatures, space-separated in ' +
      '`webhook-signature` (`v1,<with the new secret> v1,<with the old one>`), so a receiver verifies with either while it switches. ' +
      'Rotating again during a grace period ends the older secret at once.',
    responses: {
      201: {
        description: 'The new secret, and when the old one stops signing',
        json: z.object({
          key: z.string().meta({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
          previous_expires_at: z.iso.datetime(),
        }),
      },
    },
  },
  {
    method: 'get',
    path: '/api/v1/webhooks/deliveries',
    operationId: 'listWebhookDeliveries',
    tag: 'Notifications',
    summary: 'Every attempt to deliver a resource\'s events to its webhook',
    description:
      '`endpoint` is the state of the resource\'s webhook URL for your account (null before its first delivery): after ' +
      'repeated failed attempts it is `paused` (nothing is posted until `paused_until`; waiting deliveries are not listed as attempts), ' +
      'after days of failures `disabled` (deliveries are given up, each listed once). POST /api/v1/webhooks/endpoints/reenable undoes either.',
    request: { query: deliveriesQuery },
    responses: {
      200: {
        description: 'Attempts, oldest first',
        json: z.object({
          endpoint: WebhookEndpoint.nullable(),
          items: z.array(R.WebhookDelivery),
        }),
      },
    },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/endpoints/reenable',
    operationId: 'reenableWebhookEndpoint',
    tag: 'Notifications',
    summary: 'Re-enable a paused or disabled webhook endpoint',
    description:
      'Closes the endpoint\'s circuit breaker: the next deliveries to the URL are posted again. Deliveries that were given up ' +
      'while it was disabled are not sent again; deliveries waiting on a pause are posted when their wait ends (at most WEBHOOK_PAUSE_MAX_MS).',
    request: { json: reenableEndpointBody },
    responses: { 200: { description: 'The endpoint, active again', json: WebhookEndpoint } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/test',
    operationId: 'testWebhook',
    tag: 'Notifications',
    summary: 'Send a signed test event to a URL and see what it answered',
    description:
      'Posts `{"type":"test","id":…,"created_at":…,"message":…}` now, signed with your webhook secret like every webhook, through the ' +
      'same address guard and timeouts as deliveries (WEBHOOK_CONNECT_TIMEOUT_MS, WEBHOOK_TIMEOUT_MS). The answer says what the ' +
      'receiver answered: its status, the latency, the first 200 bytes of its body, and for a redirect its Location (redirects are ' +
      'not followed). No answer at all is still 200, with `delivered: false` and the reason. Nothing is recorded and no circuit breaker ' +
      'counts it. Limited to WEBHOOK_TEST_PER_MINUTE (10) a minute per API key.',
    request: { json: testWebhookBody },
    responses: { 200: { description: 'What the receiver answered', json: R.WebhookTestResult } },
    errors: { 422: [ErrorCode.webhookUrlRefused], 429: [ErrorCode.rateLimited] },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/deliveries/{delivery_id}/redeliver',
    operationId: 'redeliverWebhook',
    tag: 'Notifications',
    summary: "Send a delivery's event to its webhook again",
    description:
      'One more attempt, now, of the event of that delivery (any attempt of it: `id` in the deliveries list), to the resource\'s webhook, ' +
      'with the resource as it is today, the same `webhook-id` (receivers deduplicate by it) and a fresh signature. It goes through the ' +
      'endpoint\'s circuit breaker like any delivery; the attempt appears in the deliveries list with `redelivery: true`. One ' +
      'redelivery of an event runs at a time.',
    request: { params: deliveryIdParam },
    responses: {
      202: { description: 'The redelivery started', json: R.RedeliveryRequested, location: 'The deliveries list of the resource: /api/v1/webhooks/deliveries?resource=<type>:<id>' },
    },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.redeliveryInProgress], 503: [ErrorCode.serviceUnavailable] },
  },
  // -- src/http/routes/keys.ts ------------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/keys',
    operationId: 'createApiKey',
    tag: 'Accounts',
    summary: 'Create a named API key',
    description: 'The key is in the answer only; we keep its hash. `monthly_credit_budget` caps what the jobs sent with it may cost per UTC month.',
    request: { json: createKeyBody },
    responses: { 201: { description: 'The new key', json: CreatedApiKey } },
    errors: { 409: [ErrorCode.tooManyApiKeys, ErrorCode.apiKeyInGrace] },
  },
  {
    method: 'patch',
    path: '/api/v1/keys/{key_id}',
    operationId: 'updateApiKey',
    tag: 'Accounts',
    summary: "Set or remove an API key's monthly credit budget",
    description: 'Applies to the next job sent with the key; what its jobs already hold or cost this month counts against the new budget.',
    request: { params: keyIdParam, json: updateKeyBody },
    responses: { 200: { description: 'The key, with its budget and this month\'s spend', json: ApiKey } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'get',
    path: '/api/v1/keys',
    operationId: 'listApiKeys',
    tag: 'Accounts',
    summary: 'Your API keys, revoked and expired ones included, oldest first',
    responses: { 200: { description: 'Keys (never the key itself)', json: ApiKeyList } },
  },
  {
    method: 'delete',
    path: '/api/v1/keys/{key_id}',
    operationId: 'revokeApiKey',
    tag: 'Accounts',
    summary: 'Revoke an API key',
    description: 'It stops working on every API process before this answers. The last key that does not expire cannot be revoked.',
    request: { params: keyIdParam },
    responses: { 204: { description: 'Revoked (also when it already was)' } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.lastApiKey] },
  },
  {
    method: 'post',
    path: '/api/v1/keys/{key_id}/rotate',
    operationId: 'rotateApiKey',
    tag: 'Accounts',
    summary: 'Replace an API key; the old one keeps working for a grace period',
    request: { params: keyIdParam },
    responses: { 201: { description: 'The new key, and when the old one stops working', json: RotatedApiKey } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.apiKeyInactive, ErrorCode.apiKeyInGrace] },
  },
  // -- src/http/routes/batches.ts ---------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/batches',
    operationId: 'createBatch',
    tag: 'Jobs',
    summary: `Start up to ${MAX_BATCH_ITEMS} generation jobs in one request`,
    description:
      'Each item is the body of POST /api/v1/generate and becomes an ordinary job of your account, accepted exactly as that route ' +
      'accepts one (credits reserved, the active-jobs cap, the key\'s budget, the same queue turns: no lane of its own). An item that ' +
      'is refused (402, 422, 429 `too_many_active_jobs`, 503) is reported in `items` with its error and `http_status`; the others ' +
      'go on, and the batch is still 202. With an Idempotency-Key a retry returns the same batch and creates no job twice (an item ' +
      'never becomes two jobs: its own key is `batch:<batch_id>:<index>`); a retry after the batch was submitted submits nothing, so ' +
      'send refused items in a new batch. `webhook` receives the batch once, when every created item is final. Prompts on a trained ' +
      'model are not batched: a model runs one prompt at a time (409 `version_busy`), so send them one after another.',
    request: { json: createBatchBody, headers: batchHeaders },
    responses: {
      202: {
        description: 'The batch, every item tried: created jobs with their status, refused items with their error',
        json: R.Batch,
        location: 'The batch: /api/v1/batches/{batch_id}',
        headers: { 'Idempotent-Replayed': '`true` when an earlier request with the same Idempotency-Key made this batch' },
      },
    },
    errors: { 422: [ErrorCode.idempotencyKeyReused] },
  },
  {
    method: 'get',
    path: '/api/v1/batches/{batch_id}',
    operationId: 'getBatch',
    tag: 'Jobs',
    summary: 'A batch: its counts and every item',
    request: { params: batchIdParam },
    responses: { 200: { description: 'The batch', json: R.Batch } },
    errors: { 404: [ErrorCode.notFound] },
  },
  {
    method: 'delete',
    path: '/api/v1/batches/{batch_id}',
    operationId: 'cancelBatch',
    tag: 'Jobs',
    summary: 'Cancel every item of a batch that is not final',
    description: 'Each like DELETE /api/v1/jobs/{job_id}: canceled items release their credits; finished ones keep their outputs.',
    request: { params: batchIdParam },
    responses: { 202: { description: 'Cancellation requested', json: R.BatchCancelRequested, location: 'The batch: /api/v1/batches/{batch_id}' } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.batchAlreadyFinished] },
  },
  // -- src/http/routes/quote.ts -----------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/quote',
    operationId: 'quote',
    tag: 'Credits',
    summary: 'What a job, prompt or training would cost',
    description: 'Validated exactly like the request that creates it (the same 4xx answers); nothing is reserved, written or started.',
    request: { json: quoteBody },
    responses: { 200: { description: 'The price', json: Quote } },
    errors: { 404: [ErrorCode.notFound], 409: [ErrorCode.versionNotReady], 422: [ErrorCode.unknownModel] },
  },
  // -- src/http/routes/webhooks.ts --------------------------------------------------------------
  {
    method: 'post',
    path: '/api/v1/webhooks/stripe',
    operationId: 'stripeWebhook',
    tag: 'Webhooks',
    summary: 'Stripe events (checkout sessions)',
    description: 'Verified with the `Stripe-Signature` header over the raw body. A redelivered event answers `duplicate: true` and changes nothing.',
    public: true,
    request: {
      headers: z.object({ 'Stripe-Signature': z.string().meta({ description: 'Stripe webhook signature: `t=<timestamp>,v1=<hmac>`' }) }),
      json: z.record(z.string(), z.unknown()).meta({ description: 'A Stripe event, as Stripe sent it' }),
    },
    responses: { 200: { description: 'Received', json: R.WebhookReceipt } },
    errors: { 400: [ErrorCode.webhookSignatureInvalid] },
  },
  {
    method: 'post',
    path: '/api/v1/webhooks/replicate',
    operationId: 'replicateWebhook',
    tag: 'Webhooks',
    summary: 'Replicate prediction and training updates',
    description:
      'Verified with the `webhook-*` headers (Standard Webhooks) over the raw body, then signalled to the workflow named by the ' +
      '`workflow_id` query parameter of the webhook URL we gave Replicate. A redelivery answers `duplicate: true`.',
    public: true,
    request: {
      headers: z.object({
        'webhook-id': z.string(),
        'webhook-timestamp': z.string().meta({ description: 'Unix seconds' }),
        'webhook-signature': z.string().meta({ description: 'Space-separated `v1,<base64 hmac>` signatures' }),
      }),
      json: z.record(z.string(), z.unknown()).meta({ description: 'A Replicate prediction or training, as Replicate sent it' }),
    },
    responses: { 200: { description: 'Received', json: R.WebhookReceipt } },
    errors: { 400: [ErrorCode.webhookSignatureInvalid] },
  },
];

export function createRegistry(routes: ApiRoute[] = apiRoutes): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', API_KEY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'The API key from POST /api/v1/users, sent as `Authorization: Bearer <api_key>`.',
  });
  for (const route of routes) registry.registerPath(toRouteConfig(route));
  return registry;
}
