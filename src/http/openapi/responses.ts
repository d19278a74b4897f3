import { z } from 'zod';
import { JobStatus, ModelKind, PaymentStatus, PriceUnit, VersionStatus } from '../../generated/prisma/enums';
import { fieldSpec } from '../../catalog/contract';
import { generateBody } from '../../jobs/schemas';

/**
 * Response bodies, described once as zod schemas. They document what src/jobs/serialize.ts,
 * src/prompts/views.ts, src/training/views.ts and src/payments/serialize.ts return (the
 * src/credits/serialize.ts, src/catalog/service.ts and the routes' inline bodies return (the
 * serializers stay plain functions); test/api/openapi.test.ts checks real responses against
 * them. `.meta({ id })` makes a schema a named component of the OpenAPI document.
 */

const uuid = z.uuid();
const timestamp = z.iso.datetime().meta({ description: 'ISO 8601, UTC', example: '2025-01-01T12:00:00.000Z' });
const int = z.int();
const parameters = z
  .record(z.string(), z.unknown())
  .meta({ description: "The validated model parameters the run used: yours, the contract's defaults for fields you left out, and the fields the service sets" });
const presignedUrl = z.url().meta({ description: 'Time-limited presigned URL of our bucket' });

/** `{ error: { code, message, details? } }`: the body of every error response (src/errors.ts). */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable code; each response lists the codes it can carry', example: 'validation_failed' }),
      message: z.string().meta({ description: 'What went wrong and what to do about it, for a person', example: 'Invalid request body: prompt: must not be empty' }),
      details: z.unknown().optional().meta({ description: 'Structured context, e.g. `{ issues: [{ field, message }] }` for validation_failed' }),
    }),
  })
  .meta({ id: 'Error' });

/** Why a job, prompt or training failed (null while it has not). */
export const Failure = z
  .object({ code: z.string().meta({ example: 'prediction_failed' }), message: z.string() })
  .meta({ id: 'Failure' });

const page = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    next_cursor: z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page' }),
  });

// ---------------------------------------------------------------------------------------------
// Health

export const Liveness = z.object({ status: z.literal('ok') }).meta({ id: 'Liveness' });

/** Up or down only: why a component is down goes to the log, not to whoever asks. */
const ComponentCheck = z.object({ status: z.enum(['up', 'down']) });
export const Readiness = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    components: z.object({ postgres: ComponentCheck, temporal: ComponentCheck, s3: ComponentCheck, provider: ComponentCheck }),
  })
  .meta({ id: 'Readiness' });

// ---------------------------------------------------------------------------------------------
// Accounts

export const CreatedUser = z
  .object({
    id: uuid,
    email: z.email(),
    api_key: z.string().meta({ description: 'Shown once: send it as `Authorization: Bearer <api_key>`' }),
  })
  .meta({ id: 'CreatedUser' });

// ---------------------------------------------------------------------------------------------
// Jobs (src/jobs/serialize.ts), their catalog (src/catalog/service.ts) and input uploads

const jobStatus = z.enum(JobStatus);
const price = z.object({ credits: int, per: z.enum(PriceUnit).meta({ description: '`run`: once per job; `output`: once per output' }) });
const priceRule = price.extend({
  scale: z
    .object({ fields: z.array(z.string()), step: z.number(), unit: z.string() })
    .nullable()
    .meta({
      description:
        'The price is multiplied by each started `step` of the product of these fields: parameters (e.g. width × height per 1048576 pixels), or ' +
        '`input_file.duration`, the seconds of the input file read when it was uploaded (e.g. per 15 seconds); null: a fixed price',
    }),
  summary: z.string().meta({ example: '3 credits per output for each started 1048576 pixels of width × height' }),
});

export const CatalogModel = z
  .object({
    name: z.string().meta({ example: 'black-forest-labs/flux-schnell', description: 'Pass as `model` to POST /api/v1/generate' }),
    kind: z.enum(ModelKind),
    description: z.string(),
    input: z.object({
      prompt: z.boolean().meta({ description: 'true: the model needs a prompt; false: it takes none' }),
      file: z
        .object({
          media_types: z.array(z.string()),
          max_duration_seconds: int.nullable().meta({
            description: 'The longest recording the model takes (its duration, read at upload); null: no bound. A file longer, or whose duration could not be read, is refused (422)',
          }),
        })
        .nullable()
        .meta({ description: 'The input file the model needs (`input_file`), or null if it takes none' }),
      parameters: z.record(z.string(), fieldSpec).meta({ description: 'The fields you may set in `parameters`, with their types, ranges, enums and defaults; anything else is rejected' }),
      fixed: z.record(z.string(), z.unknown()).meta({ description: 'Input the service always sends; setting these in `parameters` is rejected' }),
    }),
    price: priceRule.meta({ description: 'Price in credits, from the validated input' }),
  })
  .meta({ id: 'CatalogModel' });

export const CatalogModelList = z.object({ items: z.array(CatalogModel) }).meta({ id: 'CatalogModelList' });

export const CreatedUpload = z
  .object({
    upload_id: uuid.meta({ description: 'Pass as `input_file` to POST /api/v1/generate' }),
    content_type: z.string().meta({ description: 'Read from the bytes, not the file name', example: 'image/png' }),
    size_bytes: int,
    duration_seconds: z.number().nullable().meta({
      description: "Audio: the playing time read from the file's headers (milliseconds precision); null when they give none, and for other kinds",
      example: 30,
    }),
  })
  .meta({ id: 'CreatedUpload' });

export const JobAccepted = z.object({ job_id: uuid, status: jobStatus }).meta({ id: 'JobAccepted' });
export const JobCancelRequested = z
  .object({ job_id: uuid, status: jobStatus, cancel_requested: z.literal(true) })
  .meta({ id: 'JobCancelRequested' });

/** src/queue/board.ts: only on the GET of one queued job, prompt or training. */
export const QueuePosition = z
  .object({
    ahead: int.meta({ description: 'Provider work items expected to start before this one (queued work of every account, taken in turns)' }),
    estimated_start_at: timestamp.meta({ description: 'When it should reach the provider at the configured provider create rate; an estimate' }),
  })
  .meta({ id: 'QueuePosition' });

export const JobOutput = z
  .object({
    index: int,
    url: presignedUrl.nullable().meta({ description: 'Time-limited presigned URL of our bucket; null once the file was deleted (expired or DELETE /api/v1/jobs/{job_id}/outputs)' }),
    content_type: z.string().meta({ example: 'image/png' }),
    size_bytes: int,
    width: int.optional(),
    height: int.optional(),
    sha256: z.string(),
    expires_at: timestamp.nullable().meta({ description: "When the file is deleted from our bucket: the job's `retention` from when it was stored" }),
    deleted_at: timestamp.nullable().meta({ description: 'When the file was deleted (on expiry or by request); its metadata stays' }),
  })
  .meta({ id: 'JobOutput' });

export const Job = z
  .object({
    job_id: uuid,
    status: jobStatus,
    model: z.string(),
    prompt: z.string().nullable().meta({ description: 'Null for a model that takes no prompt' }),
    num_outputs: int,
    seed: int.nullable(),
    output_format: generateBody.shape.output_format.unwrap().nullable().meta({ description: 'Image models only' }),
    input_file: uuid.nullable().meta({ description: 'The upload the model received, if it takes a file' }),
    parameters,
    credits_spent: int.nullable().meta({ description: 'Credits charged; null until the job finished' }),
    credits_reserved: int.meta({ description: 'Credits held for the job while it is queued or running (its maximum cost); 0 once it finished' }),
    retry_count: int,
    error: Failure.nullable(),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
    deadline: timestamp.nullable().meta({
      description: 'When the job must be final (Cancel-After or `deadline`); one not final by then is canceled, or `aborted` if it never started, with error `deadline_exceeded`',
    }),
    outputs: z.array(JobOutput),
    queue: QueuePosition.optional().meta({ description: 'While queued (GET of this one resource): where it stands' }),
  })
  .meta({ id: 'Job' });

export const JobList = page(Job).meta({ id: 'JobList' });

export const JobMetadata = z
  .object({
    job_id: uuid,
    model: z.string(),
    model_version: z.string().nullable(),
    provider: z.literal('replicate'),
    provider_prediction_id: z.string().nullable(),
    workflow_id: z.string(),
    request_id: z.string().nullable(),
    parameters,
    provider_input: z.record(z.string(), z.unknown()).meta({ description: 'The exact input the model received' }),
    input_file: uuid.nullable(),
    price: price.nullable().meta({ description: 'The model price when the job was accepted' }),
    retry_count: int,
    timings: z.object({
      created_at: timestamp,
      started_at: timestamp.nullable(),
      provider_completed_at: timestamp.nullable(),
      completed_at: timestamp.nullable(),
      queued_ms: int.nullable(),
      total_ms: int.nullable(),
      predict_time_s: z.number().nullable(),
    }),
  })
  .meta({ id: 'JobMetadata' });

// ---------------------------------------------------------------------------------------------
// Plans and payments (src/payments/serialize.ts)

export const Plan = z
  .object({
    id: z.string().meta({ example: 'starter' }),
    name: z.string(),
    description: z.string(),
    price_cents: int,
    currency: z.string().meta({ example: 'usd' }),
    images: int.meta({ description: 'Images the plan grants' }),
    is_init: z.boolean().meta({ description: 'true: a base plan that trains a new model; false: an add-on for a trained model' }),
  })
  .meta({ id: 'Plan' });

export const PlanList = z.object({ items: z.array(Plan) }).meta({ id: 'PlanList' });

export const CreatedPayment = z
  .object({
    payment_id: uuid,
    checkout_url: z.url().nullable().meta({ description: 'Stripe Checkout page where the user pays' }),
    status: z.enum(PaymentStatus),
    promocode_applied: z.boolean(),
  })
  .meta({ id: 'CreatedPayment' });

export const Payment = z
  .object({
    payment_id: uuid,
    status: z.enum(PaymentStatus),
    plan: Plan,
    version_id: uuid.nullable().meta({ description: 'For an add-on: the model that receives the images' }),
    checkout_url: z.url().nullable().meta({ description: 'Only while the payment is pending' }),
    amount_cents: int.nullable().meta({ description: 'What Stripe charged; null until paid' }),
    currency: z.string().nullable(),
    promotion_code: z.string().nullable(),
    created_at: timestamp,
    paid_at: timestamp.nullable(),
  })
  .meta({ id: 'Payment' });

// ---------------------------------------------------------------------------------------------
// Credits (src/credits/serialize.ts)

export const Balance = z
  .object({
    credits: int.meta({ description: 'Spendable now' }),
    reserved: int.meta({ description: 'Held for jobs that have not finished' }),
  })
  .meta({ id: 'Balance' });

export const CreditPack = z
  .object({
    id: z.string().meta({ example: 'credits-100' }),
    name: z.string(),
    description: z.string(),
    credits: int,
    price_cents: int,
    currency: z.string().meta({ example: 'usd' }),
  })
  .meta({ id: 'CreditPack' });

export const CreditPackList = z.object({ items: z.array(CreditPack) }).meta({ id: 'CreditPackList' });

export const CreatedCreditPurchase = z
  .object({
    purchase_id: uuid,
    checkout_url: z.url().nullable().meta({ description: 'Stripe Checkout page where the user pays' }),
    status: z.enum(PaymentStatus),
    credits: int.meta({ description: 'Added to the balance once paid' }),
  })
  .meta({ id: 'CreatedCreditPurchase' });

export const CreditPurchase = z
  .object({
    purchase_id: uuid,
    status: z.enum(PaymentStatus),
    pack: CreditPack,
    credits: int,
    checkout_url: z.url().nullable().meta({ description: 'Only while the purchase is pending' }),
    amount_cents: int.nullable().meta({ description: 'What Stripe charged; null until paid' }),
    currency: z.string().nullable(),
    created_at: timestamp,
    paid_at: timestamp.nullable(),
  })
  .meta({ id: 'CreditPurchase' });

export const UsageEntry = z
  .object({
    job_id: uuid,
    model: z.string(),
    status: jobStatus,
    credits_spent: int.nullable().meta({ description: 'Null until the job finished' }),
    credits_reserved: int.meta({ description: 'Held while the job is queued or running (its maximum cost); 0 once it finished' }),
    created_at: timestamp,
    completed_at: timestamp.nullable(),
  })
  .meta({ id: 'UsageEntry' });

export const UsageList = page(UsageEntry).meta({ id: 'UsageList' });

// ---------------------------------------------------------------------------------------------
// Models (src/training/views.ts)

const PhotoFinding = z
  .object({
    code: z.string().meta({ description: 'Stable code: a face finding (`no_face`, `multiple_faces`, `face_too_small`, `blurry`, `too_dark`, `overexposed`, `different_person`, `not_inspected`) or a header check (`unsupported_type`, `too_small`, `duplicate`, `too_few_images`, …)' }),
    severity: z.enum(['error', 'warning']).meta({ description: 'An error blocks a training; a warning does not' }),
    index: int.nullable().meta({ description: '0-based position of the photo in the upload; null for the whole set' }),
    filename: z.string().nullable(),
    message: z.string().meta({ description: 'What is wrong and what to do' }),
  })
  .meta({ id: 'PhotoFinding' });

export const PhotoInspection = z
  .object({
    ok: z.boolean().meta({ description: 'No error: a training may start with these photos' }),
    errors: int,
    warnings: int,
    photos: z.array(
      z.object({
        index: int,
        filename: z.string(),
        width: int.nullable().meta({ description: 'As inspected (decoded to at most FACE_CHECK_MAX_SIDE_PX)' }),
        height: int.nullable(),
        faces: int.nullable().meta({ description: 'Faces that count; null when the photo was not inspected' }),
        face: z
          .object({
            box: z.object({ x: int, y: int, width: int, height: int }),
            share: z.number().meta({ description: 'Face box area over photo area' }),
            sharpness: z.number().meta({ description: 'Variance of the Laplacian of the face' }),
            luma: z.number().meta({ description: 'Mean brightness of the face, 0-255' }),
            clipped: z.number().meta({ description: 'Share of the face blown out to white' }),
          })
          .nullable(),
        findings: z.array(PhotoFinding),
      }),
    ),
    findings: z.array(PhotoFinding).meta({ description: 'Every finding: photo by photo, then those about the whole set' }),
    training_refuses_errors: z.boolean().meta({ description: 'The training upload refuses a set with an error (FACE_CHECK_TRAINING=enforce)' }),
  })
  .meta({ id: 'PhotoInspection' });

export const TrainingAccepted = z
  .object({ version_id: uuid, status: z.literal(VersionStatus.queued) })
  .meta({ id: 'TrainingAccepted' });

export const Version = z
  .object({
    version_id: uuid,
    status: z.enum(VersionStatus),
    progress: z.number().optional().meta({ description: 'Training progress from 0 to 1, once known' }),
    trigger_word: z.string(),
    plan_id: z.string(),
    payment_id: uuid,
    image_count: int.meta({ description: 'Training photos uploaded' }),
    images_total: int.meta({ description: 'Images granted by the plan and its add-ons' }),
    images_used: int,
    images_reserved: int.meta({ description: 'Held by prompts that are running' }),
    images_left: int,
    created_at: timestamp,
    trained_at: timestamp.nullable(),
    error: Failure.nullable(),
    provider_model: z.string().optional().meta({ description: 'Only once the training succeeded' }),
    provider_version: z.string().optional().meta({ description: 'Only once the training succeeded' }),
    queue: QueuePosition.optional().meta({ description: 'While queued (GET of this one resource): where it stands' }),
  })
  .meta({ id: 'Version' });

export const VersionList = page(Version).meta({ id: 'VersionList' });

// ---------------------------------------------------------------------------------------------
// Prompts (src/prompts/views.ts)

export const PromptAccepted = z
  .object({ prompt_id: uuid, status: z.literal(JobStatus.queued) })
  .meta({ id: 'PromptAccepted' });
export const PromptCancelRequested = z
  .object({ prompt_id: uuid, cancel_requested: z.literal(true) })
  .meta({ id: 'PromptCancelRequested' });

export const PromptImage = z
  .object({
    id: uuid,
    index: int,
    url: presignedUrl,
    width: int.nullable(),
    height: int.nullable(),
    content_type: z.string(),
    size_bytes: int,
    sha256: z.string(),
  })
  .meta({ id: 'PromptImage' });

export const Prompt = z
  .object({
    prompt_id: uuid,
    version_id: uuid,
    prompt: z.string(),
    negative_prompt: z.string().nullable(),
    num_outputs: int,
    seed: int.nullable(),
    width: int.nullable(),
    height: int.nullable(),
    parameters,
    status: jobStatus,
    error: Failure.nullable(),
    created_at: timestamp,
    started_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
    deadline: timestamp.nullable().meta({
      description: 'When the prompt must be final (Cancel-After or `deadline`); one not final by then is canceled, or `aborted` if it never started, with error `deadline_exceeded`',
    }),
    images: z.array(PromptImage),
    queue: QueuePosition.optional().meta({ description: 'While queued (GET of this one resource): where it stands' }),
  })
  .meta({ id: 'Prompt' });

export const PromptSummary = z
  .object({
    prompt_id: uuid,
    prompt: z.string(),
    status: jobStatus,
    created_at: timestamp,
    images: z.array(
      z.object({ id: uuid, url: presignedUrl, width: int.nullable(), height: int.nullable(), content_type: z.string() }),
    ),
  })
  .meta({ id: 'PromptSummary' });

export const PromptList = page(PromptSummary).meta({ id: 'PromptList' });

// ---------------------------------------------------------------------------------------------
// Webhooks

export const WebhookReceipt = z
  .object({
    received: z.literal(true),
    duplicate: z.literal(true).optional().meta({ description: 'This delivery was already processed; nothing changed' }),
    ignored: z.literal(true).optional().meta({ description: 'Recorded, but nothing to act on' }),
  })
  .meta({ id: 'WebhookReceipt' });

// ---------------------------------------------------------------------------------------------
// Batches (src/batches/service.ts)

const itemError = z
  .object({
    code: z.string().meta({ example: 'insufficient_credits' }),
    message: z.string(),
    http_status: int.optional().meta({ description: 'For a refused item: the status POST /api/v1/generate would have answered' }),
    details: z.unknown().optional(),
  })
  .meta({ id: 'BatchItemError' });

export const Batch = z
  .object({
    batch_id: uuid,
    kind: z.literal('job'),
    status: z.enum(['submitting', 'running', 'completed']).meta({
      description: '`submitting`: items are still being created; `running`: every item was tried and some are queued or running; `completed`: every created item is final',
    }),
    size: int,
    counts: z
      .object({
        queued: int,
        running: int,
        succeeded: int,
        failed: int,
        canceled: int,
        aborted: int,
        created: int.meta({ description: 'Items that became jobs' }),
        rejected: int.meta({ description: 'Items refused when the batch was sent (each with its error)' }),
        final: int.meta({ description: 'Created items that are final' }),
      })
      .meta({ id: 'BatchCounts' }),
    webhook: z.string().nullable(),
    created_at: timestamp,
    submitted_at: timestamp.nullable(),
    completed_at: timestamp.nullable(),
    items: z.array(
      z
        .object({
          index: int,
          job_id: uuid.nullable().meta({ description: 'The job (GET /api/v1/status/{job_id}); null when the item was refused or is not created yet' }),
          status: z.enum([...Object.values(JobStatus), 'rejected', 'pending']).meta({
            description: 'The job\'s status; `rejected`: refused when sent (see `error`); `pending`: not created yet (the batch is `submitting`)',
          }),
          error: itemError.nullable(),
          credits_spent: int.nullable(),
        })
        .meta({ id: 'BatchItem' }),
    ),
  })
  .meta({ id: 'Batch' });

export const BatchCancelRequested = z
  .object({ batch_id: uuid, cancel_requested: int.meta({ description: 'Items whose cancellation was requested (those not final yet)' }) })
  .meta({ id: 'BatchCancelRequested' });

// ---------------------------------------------------------------------------------------------
// Webhook tools (src/http/routes/webhook-deliveries.ts)

export const WebhookTestResult = z
  .object({
    webhook_id: z.string().meta({ description: 'The `webhook-id` header the test event was sent with', example: 'evt_test_4b0c…' }),
    delivered: z.boolean().meta({ description: 'The receiver answered 2xx within WEBHOOK_TIMEOUT_MS' }),
    status_code: int.nullable().meta({ description: 'What the receiver answered; null when it did not answer (see `error`)' }),
    latency_ms: int,
    body_excerpt: z.string().nullable().meta({ description: 'The first 200 bytes of its answer, as text' }),
    redirect_location: z.string().nullable().meta({ description: 'For a 3xx answer: its Location. Redirects are not followed; use the final URL' }),
    error: z.string().nullable().meta({ description: 'Why it was not delivered, in words' }),
  })
  .meta({ id: 'WebhookTestResult' });

export const WebhookDelivery = z
  .object({
    id: z.string().meta({ description: 'The attempt; POST /api/v1/webhooks/deliveries/{id}/redeliver sends its event again' }),
    event_id: z.string(),
    event: z.string(),
    url: z.string(),
    attempt: int,
    status_code: int.nullable().meta({ description: 'What the receiver answered; null when it did not answer or nothing was sent' }),
    duration_ms: int.meta({ description: 'Latency of the attempt, from the start of the attempt to the end of the answer' }),
    error: z.string().nullable().meta({ description: 'Why the attempt failed; a redirect says so plainly, with its Location' }),
    response_excerpt: z.string().nullable().meta({ description: 'The first 200 bytes of the receiver\'s answer, as text' }),
    redirect_location: z.string().nullable().meta({ description: 'The Location of a 3xx answer (redirects are not followed)' }),
    redelivery: z.boolean().meta({ description: 'An attempt asked for with redeliver' }),
    next_retry_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });

export const RedeliveryRequested = z
  .object({
    delivery_id: z.string(),
    event_id: z.string(),
    event: z.string(),
    resource: z.string().meta({ example: 'job:6f1c…' }),
    url: z.string().meta({ description: "The resource's webhook, where the event goes" }),
    redelivery_requested: z.literal(true),
  })
  .meta({ id: 'RedeliveryRequested' });
