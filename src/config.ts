import { z } from 'zod';
import { LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY, productionSecretProblems } from './production-secrets';
import { mainQueueOf } from './temporal/names';

/**
 * The one configuration module: zod over the environment, parsed once at start-up.
 * Every key is listed in .env.example. Start-up fails fast with a readable list of problems.
 */
const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const schema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  // HTTP API
  HOST: z.string().default('127.0.0.1'),
  PORT: port.default(3000),
  /** Base URL the provider uses to reach our webhooks and clients use in Location headers. */
  PUBLIC_BASE_URL: z.url().default('http://127.0.0.1:3000'),
  API_KEY_PEPPER: z.string().min(16, 'API_KEY_PEPPER must be at least 16 characters'),
  /** A rotated API key keeps working this long beside its successor (POST /api/v1/keys/{id}/rotate); 0 = it stops at once. */
  API_KEY_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).default(86_400),
  JSON_BODY_LIMIT: z.string().default('100kb'),
  /** Browser origins allowed by CORS, comma-separated (https://app.example.com,...); empty = no CORS headers at all. */
  CORS_ORIGINS: z.string().default(''),
  /** Express `trust proxy`: false (clients connect directly), true, a hop count, or comma-separated proxy addresses/CIDRs. */
  TRUST_PROXY: z.string().default('false'),
  /** Requests per minute per API key on /api/v1 (webhooks excluded); 0 = no limit. Per API process (in-memory counters). */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(600),
  /** Requests per minute per client IP on /api/v1 without an API key (sign-up, plans); 0 = no limit. */
  RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: z.coerce.number().int().min(0).default(60),
  /** Requests per minute per client IP on /api/v1, with or without an API key: a ceiling no header skips; 0 = no limit. */
  RATE_LIMIT_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(0).default(1200),
  /** Webhook requests (/api/v1/webhooks/*) per minute per client IP whose signature fails; 0 = no limit. */
  RATE_LIMIT_WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE: z.coerce.number().int().min(0).default(30),
  /** Open event streams (GET …/events) per API key, per API process; beyond it 429 too_many_streams. */
  SSE_MAX_STREAMS_PER_KEY: positiveInt.default(10),
  /** Open event streams per API process, all keys together; beyond it 503 service_unavailable. */
  SSE_MAX_STREAMS: positiveInt.default(1000),
  /** An event stream ends after this long with a `retry:` hint; EventSource resumes with Last-Event-ID. */
  SSE_MAX_LIFETIME_MS: positiveInt.default(10 * 60_000),
  /** The `retry:` hint (ms) sent when a stream reaches its lifetime or the API process shuts down. */
  SSE_RETRY_MS: positiveInt.default(2_000),
  /**
   * If set, GET /metrics on the API and on the worker's WORKER_APP_METRICS_PORT requires
   * `Authorization: Bearer <METRICS_TOKEN>`; in production, without it, neither serves /metrics (src/metrics/access.ts).
   */
  METRICS_TOKEN: optionalString,
  /** The development-only routes (POST /api/v1/dev/complete-checkout, the console's test checkout) exist only when true; never in production. */
  DEV_ROUTES: bool.default(false),

  // Postgres
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'DATABASE_URL must be a postgresql:// URL'),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  /** Fail fast while Postgres is unreachable: a new connection (or a wait for a free one) gives up after this. */
  DATABASE_CONNECT_TIMEOUT_MS: positiveInt.default(5000),
  /** Postgres cancels a statement running longer than this (statement_timeout); the client gives up a little later. */
  DATABASE_STATEMENT_TIMEOUT_MS: positiveInt.default(15_000),
  /** Postgres ends a session whose transaction sits idle this long (idle_in_transaction_session_timeout). */
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt.default(15_000),

  // Temporal
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /** Workflows and database/storage activities. Provider calls use two derived queues (see task-queues.ts). */
  /** The main task queue; the others are named after it (src/temporal/names.ts), so it may not end like one of them. */
  TEMPORAL_TASK_QUEUE: z
    .string()
    .min(1)
    .refine((q) => mainQueueOf(q) === q, 'must not end in -replicate-create, -replicate-calls or -webhooks (the names of the other task queues)')
    .default('imagegen'),

  // Worker tuning (defaults chosen from measurements on a 2-core machine; see README "Performance")
  WORKER_MAX_CONCURRENT_ACTIVITIES: positiveInt.default(100),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: positiveInt.default(40),
  WORKER_MAX_CACHED_WORKFLOWS: positiveInt.default(1000),
  WORKER_SHUTDOWN_GRACE_MS: positiveInt.default(30_000),
  /**
   * How long a cached workflow's next task waits for the worker that cached it before any worker
   * may take it (replaying its history). Short: a killed worker's workflows move on quickly.
   * Too short under overload: live workers miss it and replay histories, which loads Temporal.
   */
  WORKER_STICKY_QUEUE_TIMEOUT_MS: positiveInt.default(3_000),
  /** Prebuilt workflow bundle (the production image has one); unset = bundle workflows at start. */
  WORKFLOW_BUNDLE_PATH: optionalString,
  /** Address the worker's metrics endpoints listen on (0.0.0.0 in containers). */
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** Temporal SDK metrics (temporal_*), served by the SDK's own exporter; 0 = off. */
  WORKER_METRICS_PORT: port.default(9464),
  /** Our worker metrics (imagegen_activity_*, business counters, process); 0 = off. */
  WORKER_APP_METRICS_PORT: port.default(9465),

  // S3-compatible object storage
  S3_ENDPOINT: optionalString,
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  S3_BUCKET: z.string().min(3),
  S3_FORCE_PATH_STYLE: bool.default(true),
  S3_PRESIGN_TTL_SECONDS: positiveInt.default(3600),

  // Replicate (or the local Replicate-compatible server)
  REPLICATE_API_TOKEN: z.string().min(1),
  REPLICATE_BASE_URL: z.url().default('https://api.replicate.com/v1'),
  /** If unset, fetched once from the provider (GET /v1/webhooks/default/secret). */
  REPLICATE_WEBHOOK_SECRET: optionalString,
  WEBHOOK_TOLERANCE_SECONDS: positiveInt.default(300),
  /**
   * How long a provider `start` webhook waits for its run to be recorded before it is passed on to
   * the workflow anyway (src/http/routes/webhooks.ts): the `start` of a run its workflow recorded
   * is not signaled. Usually a few ms; a stray run's `start` is passed on this much later.
   */
  REPLICATE_START_WEBHOOK_WAIT_MS: z.coerce.number().int().min(0).max(10_000).default(2000),
  /** Task-queue rate limits shared by all workers: Replicate allows ~600 creates/min and 3000 other calls/min. */
  REPLICATE_CREATE_RATE_PER_SECOND: z.coerce.number().positive().default(10),
  REPLICATE_CALL_RATE_PER_SECOND: z.coerce.number().positive().default(45),
  /**
   * Hosts the worker copies outputs from, comma-separated; `*.example.com` = its subdomains. Only https, never to
   * private addresses in production; in development and test the host of REPLICATE_BASE_URL is allowed too.
   */
  PROVIDER_OUTPUT_HOSTS: z.string().default('replicate.delivery,*.replicate.delivery'),

  // Stripe (stripe-mock locally: STRIPE_API_BASE=http://127.0.0.1:12111)
  STRIPE_SECRET_KEY: z.string().regex(/^(sk|rk)_(test|live)_/, 'STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_... or sk_live_...)'),
  STRIPE_WEBHOOK_SECRET: z.string().regex(/^whsec_/, 'STRIPE_WEBHOOK_SECRET must start with whsec_'),
  STRIPE_API_BASE: z.url().optional(),
  STRIPE_WEBHOOK_TOLERANCE_SECONDS: positiveInt.default(300),
  CHECKOUT_SUCCESS_URL: z.url().default('http://127.0.0.1:3000/checkout/success?payment_id={PAYMENT_ID}'),
  CHECKOUT_CANCEL_URL: z.url().default('http://127.0.0.1:3000/checkout/cancel?payment_id={PAYMENT_ID}'),
  CREDITS_CHECKOUT_SUCCESS_URL: z.url().default('http://127.0.0.1:3000/checkout/success?purchase_id={PURCHASE_ID}'),
  CREDITS_CHECKOUT_CANCEL_URL: z.url().default('http://127.0.0.1:3000/checkout/cancel?purchase_id={PURCHASE_ID}'),
  /** Open (pending, unexpired) checkouts a user may have at once, plan payments and credit packs together. */
  MAX_OPEN_CHECKOUTS: positiveInt.default(5),
  /** Generation jobs an account may have queued or running at once; beyond it 429 too_many_active_jobs. */
  MAX_ACTIVE_JOBS_PER_ACCOUNT: positiveInt.default(100),

  // Job input uploads: the largest file accepted per media kind (the kind is sniffed from the bytes)
  UPLOAD_MAX_IMAGE_BYTES: positiveInt.default(20 * 1024 * 1024),
  UPLOAD_MAX_AUDIO_BYTES: positiveInt.default(50 * 1024 * 1024),
  UPLOAD_MAX_VIDEO_BYTES: positiveInt.default(200 * 1024 * 1024),
  /** Bytes of job input uploads a user may keep stored in total. */
  UPLOAD_QUOTA_BYTES: positiveInt.default(500 * 1024 * 1024),

  // Training
  TRAINER_MODEL: z.string().regex(/^[\w.-]+\/[\w.-]+:[a-f0-9]{64}$/, 'TRAINER_MODEL must be owner/name:<version>').default(
    'ostris/flux-dev-lora-trainer:e440909d3512c31646ee2e0c7d6f6f4923224863a6a10c494606e79fb5844497',
  ),
  /** Replicate account (or organisation) that owns the users' trained models. */
  TRAINING_DESTINATION_OWNER: z.string().min(1).default('imagegen'),
  TRAINING_STEPS: positiveInt.default(1000),
  TRAINING_MIN_IMAGES: positiveInt.default(10),
  TRAINING_MAX_IMAGES: positiveInt.default(30),
  TRAINING_MAX_FILE_BYTES: positiveInt.default(25 * 1024 * 1024),
  TRAINING_MAX_TOTAL_BYTES: positiveInt.default(300 * 1024 * 1024),
  TRAINING_MIN_SIDE_PX: positiveInt.default(512),
  TRAINING_TIMEOUT_MS: positiveInt.default(2 * 60 * 60_000),

  // Face inspection of training photos (src/images/faces): POST /photos/inspect and the training upload
  /** enforce: the training upload refuses a set with an error finding (422); off: only POST /photos/inspect inspects faces. */
  FACE_CHECK_TRAINING: z.enum(['enforce', 'off']).default('enforce'),
  /** Inspection threads per API process (each holds the model, about 60 MB); one leaves the other core to the API. */
  FACE_CHECK_THREADS: positiveInt.default(1),
  /** Photos waiting for inspection per API process, all accounts (503 beyond it): about four full sets. */
  FACE_CHECK_MAX_QUEUED: positiveInt.default(120),
  /** Photos one account may have waiting (429 beyond it): two full sets; accounts take turns on the threads. */
  FACE_CHECK_MAX_QUEUED_PER_ACCOUNT: positiveInt.default(60),
  /** Photos are decoded to fit in this many px before inspection: the detector sees 320 px, faces stay ≥ 100 px. */
  FACE_CHECK_MAX_SIDE_PX: positiveInt.default(640),
  /** Detector score below which a detection is ignored: the sample sets' real faces score 0.37–0.95, shapes none. */
  FACE_CHECK_MIN_SCORE: z.coerce.number().gt(0).lt(1).default(0.3),
  /** Other faces count (multiple_faces) when at least this share of the largest face's width; smaller ones are the background. */
  FACE_CHECK_OTHER_FACE_MIN_RATIO: z.coerce.number().gt(0).max(1).default(0.5),
  /** face_too_small below this share of the photo's area: 1% is a face about a tenth of each side, too few pixels to learn from. */
  FACE_CHECK_MIN_FACE_SHARE: z.coerce.number().min(0).lt(1).default(0.01),
  /** blurry below this variance of the Laplacian (face at 128 px, contrast stretched): sharp photos measure 88–390, a 6 px blur 28. */
  FACE_CHECK_MIN_SHARPNESS: z.coerce.number().min(0).default(50),
  /** too_dark (a warning) below this mean face luma of 255: the sample faces measure 110–170; at 5x less light, 27. */
  FACE_CHECK_MIN_LUMA: z.coerce.number().min(0).max(255).default(60),
  /** overexposed (a warning) above this share of blown-out (≥ 250) face pixels: skin detail is gone there. */
  FACE_CHECK_MAX_CLIPPED: z.coerce.number().min(0).max(1).default(0.2),
  /** different_person above this distance from the set's medoid face: one person's photos measure ≤ 0.32, others ≥ 0.6 (face-api's own cut: 0.6). */
  FACE_CHECK_MAX_DISTANCE: z.coerce.number().gt(0).default(0.55),

  // Reconciliation schedule
  RECONCILE_INTERVAL_MS: positiveInt.default(5 * 60_000),
  /** Rows untouched this long whose workflow is gone are repaired. */
  RECONCILE_GRACE_MS: positiveInt.default(10 * 60_000),
  RECONCILE_BATCH_LIMIT: positiveInt.default(100),

  // Outbound webhooks (src/webhooks-out): their own task queue and slots, timeouts, per-endpoint breaker
  /** Worker slots for webhook deliveries (their own task queue): a silent receiver can hold at most these. */
  WEBHOOK_WORKER_CONCURRENCY: positiveInt.default(20),
  /** A webhook receiver must accept the connection within this. */
  WEBHOOK_CONNECT_TIMEOUT_MS: positiveInt.default(3_000),
  /** A webhook attempt (connect, send, answer) gives up after this; below the activity's 12 s start-to-close. */
  WEBHOOK_TIMEOUT_MS: positiveInt.max(10_000, 'WEBHOOK_TIMEOUT_MS must be at most 10000 (the delivery activity has 12 s)').default(8_000),
  /** Webhooks may go to loopback addresses (and plain http to them): local development and tests only; refused in production. */
  WEBHOOK_ALLOW_LOOPBACK: bool.default(false),
  /** Encrypts the stored webhook signing secrets (AES-256-GCM under its SHA-256); required in production, a fixed local value elsewhere. */
  WEBHOOK_SECRET_ENCRYPTION_KEY: z.string().min(32, 'WEBHOOK_SECRET_ENCRYPTION_KEY must be at least 32 characters').default(LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY),
  /** After POST /webhooks/secret/rotate, the old secret signs next to the new one for this long. */
  WEBHOOK_SECRET_ROTATION_GRACE_SECONDS: z.coerce.number().int().min(0).max(30 * 24 * 3600).default(24 * 3600),
  /** Consecutive failed attempts to one endpoint (account + URL) that pause it. */
  WEBHOOK_BREAKER_FAILURES: positiveInt.default(5),
  /** The first pause of a failing endpoint; each further failed attempt after a pause doubles it, up to WEBHOOK_PAUSE_MAX_MS. */
  WEBHOOK_PAUSE_MIN_MS: positiveInt.default(60_000),
  WEBHOOK_PAUSE_MAX_MS: positiveInt.default(60 * 60_000),
  /** An endpoint whose attempts have all failed for this long is disabled until its owner re-enables it. */
  WEBHOOK_DISABLE_AFTER_MS: positiveInt.default(3 * 24 * 60 * 60_000),
  /** POST /webhooks/test requests per minute per API key (each is an outbound request on the caller's behalf); 0 = no limit. */
  WEBHOOK_TEST_PER_MINUTE: z.coerce.number().int().min(0).default(10),

  // Output retention (src/jobs/outputs.ts): how long job outputs stay in the bucket, and the expiry schedule
  /** The retention of a job that asks for none. */
  OUTPUT_RETENTION_DEFAULT_SECONDS: positiveInt.default(30 * 24 * 3600),
  /** The longest `retention` a job may ask for (422 beyond it). */
  OUTPUT_RETENTION_MAX_SECONDS: positiveInt.default(30 * 24 * 3600),
  /** How often the expiry schedule (expire-outputs-<task queue>) deletes expired outputs. */
  OUTPUT_EXPIRY_INTERVAL_MS: positiveInt.default(10 * 60_000),
  /** Outputs one expiry activity deletes (one S3 DeleteObjects and one update); a run takes up to 20 pages. */
  OUTPUT_EXPIRY_PAGE_SIZE: positiveInt.max(1000).default(200),

  // Workflow waits (configurable so tests need no time-skipping server)
  JOB_POLL_INTERVAL_MS: positiveInt.default(10_000),
  JOB_TIMEOUT_MS: positiveInt.default(30 * 60_000),
});

export type Env = z.infer<typeof schema>;

export interface Config {
  env: Env['NODE_ENV'];
  logLevel: Env['LOG_LEVEL'];
  /** DEV_ROUTES: the development-only routes are mounted (outside production only). */
  devRoutes: boolean;
  http: { host: string; port: number; publicBaseUrl: string; jsonBodyLimit: string; corsOrigins: string[]; trustProxy: boolean | number | string };
  rateLimit: { perKeyPerMinute: number; unauthenticatedPerMinute: number; perAddressPerMinute: number; webhookFailuresPerAddressPerMinute: number };
  sse: { maxStreamsPerKey: number; maxStreams: number; maxLifetimeMs: number; retryMs: number };
  metrics: { token?: string; workerHost: string; workerSdkPort: number; workerAppPort: number };
  apiKeyPepper: string;
  apiKeyRotationGraceSeconds: number;
  database: { url: string; poolSize: number; connectTimeoutMs: number; statementTimeoutMs: number; idleInTransactionTimeoutMs: number };
  temporal: { address: string; namespace: string; taskQueue: string };
  worker: { maxConcurrentActivities: number; maxConcurrentWorkflowTasks: number; maxCachedWorkflows: number; shutdownGraceMs: number; stickyQueueTimeoutMs: number; workflowBundlePath?: string };
  s3: { endpoint?: string; region: string; accessKeyId: string; secretAccessKey: string; bucket: string; forcePathStyle: boolean; presignTtlSeconds: number };
  replicate: { startWebhookWaitMs: number; apiToken: string; baseUrl: string; webhookSecret?: string; createRatePerSecond: number; callRatePerSecond: number; outputHosts: string[] };
  webhookToleranceSeconds: number;
  webhooks: WebhookSettings;
  outputs: { retentionDefaultSeconds: number; retentionMaxSeconds: number; expiryIntervalMs: number; expiryPageSize: number };
  jobs: { pollIntervalMs: number; timeoutMs: number };
  reconcile: { intervalMs: number; graceMs: number; batchLimit: number };
  stripe: { secretKey: string; webhookSecret: string; apiBase?: string; webhookToleranceSeconds: number; successUrl: string; cancelUrl: string };
  credits: { successUrl: string; cancelUrl: string };
  checkouts: { maxOpen: number };
  accounts: { maxActiveJobs: number };
  uploads: { maxBytes: { image: number; audio: number; video: number }; quotaBytes: number };
  training: {
    trainerModel: string;
    destinationOwner: string;
    steps: number;
    minImages: number;
    maxImages: number;
    maxFileBytes: number;
    maxTotalBytes: number;
    minSidePx: number;
    timeoutMs: number;
  };
  faceCheck: FaceCheckSettings;
}

/** Face inspection of training photos: the thread pool, its bounds, and the findings' thresholds. */
export interface FaceCheckSettings {
  training: 'enforce' | 'off';
  threads: number;
  maxQueued: number;
  maxQueuedPerAccount: number;
  maxSidePx: number;
  minScore: number;
  thresholds: {
    otherFaceMinRatio: number;
    minFaceShare: number;
    minSharpness: number;
    minLuma: number;
    maxClipped: number;
    maxDistance: number;
  };
}

/** Outbound webhook deliveries: worker slots, timeouts and the per-endpoint circuit breaker. */
export interface WebhookSettings {
  workerConcurrency: number;
  /** POST /webhooks/test per minute per API key. */
  testPerMinute: number;
  connectTimeoutMs: number;
  timeoutMs: number;
  /** WEBHOOK_ALLOW_LOOPBACK: deliveries may go to loopback (local development, tests). */
  allowLoopback: boolean;
  /** How signing secrets are stored and rotated (src/webhooks-out/secret.ts). */
  secrets: { encryptionKey: string; rotationGraceSeconds: number };
  breaker: { failures: number; pauseMinMs: number; pauseMaxMs: number; disableAfterMs: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // An empty value (KEY= in a copied .env) means "not set": the default applies.
  const set = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const parsed = schema.safeParse(set);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)),
    ...(set.NODE_ENV === 'production' ? productionSecretProblems(set) : []),
    ...(set.NODE_ENV === 'production' && ['true', '1'].includes(set.WEBHOOK_ALLOW_LOOPBACK ?? '') ? ['WEBHOOK_ALLOW_LOOPBACK: must not be true in production'] : []),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    env: e.NODE_ENV,
    logLevel: e.LOG_LEVEL,
    devRoutes: e.DEV_ROUTES,
    http: {
      host: e.HOST,
      port: e.PORT,
      publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/$/, ''),
      jsonBodyLimit: e.JSON_BODY_LIMIT,
      corsOrigins: e.CORS_ORIGINS.split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean),
      trustProxy: parseTrustProxy(e.TRUST_PROXY),
    },
    rateLimit: {
      perKeyPerMinute: e.RATE_LIMIT_PER_MINUTE,
      unauthenticatedPerMinute: e.RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE,
      perAddressPerMinute: e.RATE_LIMIT_PER_ADDRESS_PER_MINUTE,
      webhookFailuresPerAddressPerMinute: e.RATE_LIMIT_WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE,
    },
    sse: { maxStreamsPerKey: e.SSE_MAX_STREAMS_PER_KEY, maxStreams: e.SSE_MAX_STREAMS, maxLifetimeMs: e.SSE_MAX_LIFETIME_MS, retryMs: e.SSE_RETRY_MS },
    metrics: { token: e.METRICS_TOKEN, workerHost: e.WORKER_METRICS_HOST, workerSdkPort: e.WORKER_METRICS_PORT, workerAppPort: e.WORKER_APP_METRICS_PORT },
    apiKeyPepper: e.API_KEY_PEPPER,
    apiKeyRotationGraceSeconds: e.API_KEY_ROTATION_GRACE_SECONDS,
    database: {
      url: e.DATABASE_URL,
      poolSize: e.DATABASE_POOL_SIZE,
      connectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: e.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    worker: {
      maxConcurrentActivities: e.WORKER_MAX_CONCURRENT_ACTIVITIES,
      maxConcurrentWorkflowTasks: e.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      maxCachedWorkflows: e.WORKER_MAX_CACHED_WORKFLOWS,
      shutdownGraceMs: e.WORKER_SHUTDOWN_GRACE_MS,
      stickyQueueTimeoutMs: e.WORKER_STICKY_QUEUE_TIMEOUT_MS,
      workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    },
    s3: {
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION,
      accessKeyId: e.S3_ACCESS_KEY_ID,
      secretAccessKey: e.S3_SECRET_ACCESS_KEY,
      bucket: e.S3_BUCKET,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      presignTtlSeconds: e.S3_PRESIGN_TTL_SECONDS,
    },
    replicate: {
      startWebhookWaitMs: e.REPLICATE_START_WEBHOOK_WAIT_MS,
      apiToken: e.REPLICATE_API_TOKEN,
      baseUrl: e.REPLICATE_BASE_URL.replace(/\/$/, ''),
      webhookSecret: e.REPLICATE_WEBHOOK_SECRET,
      createRatePerSecond: e.REPLICATE_CREATE_RATE_PER_SECOND,
      callRatePerSecond: e.REPLICATE_CALL_RATE_PER_SECOND,
      outputHosts: outputHosts(e),
    },
    webhookToleranceSeconds: e.WEBHOOK_TOLERANCE_SECONDS,
    webhooks: {
      workerConcurrency: e.WEBHOOK_WORKER_CONCURRENCY,
      testPerMinute: e.WEBHOOK_TEST_PER_MINUTE,
      connectTimeoutMs: e.WEBHOOK_CONNECT_TIMEOUT_MS,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      allowLoopback: e.WEBHOOK_ALLOW_LOOPBACK,
      secrets: { encryptionKey: e.WEBHOOK_SECRET_ENCRYPTION_KEY, rotationGraceSeconds: e.WEBHOOK_SECRET_ROTATION_GRACE_SECONDS },
      breaker: {
        failures: e.WEBHOOK_BREAKER_FAILURES,
        pauseMinMs: e.WEBHOOK_PAUSE_MIN_MS,
        pauseMaxMs: Math.max(e.WEBHOOK_PAUSE_MAX_MS, e.WEBHOOK_PAUSE_MIN_MS),
        disableAfterMs: e.WEBHOOK_DISABLE_AFTER_MS,
      },
    },
    outputs: {
      retentionMaxSeconds: e.OUTPUT_RETENTION_MAX_SECONDS,
      // A default above the maximum would refuse nothing yet keep outputs longer than allowed.
      retentionDefaultSeconds: Math.min(e.OUTPUT_RETENTION_DEFAULT_SECONDS, e.OUTPUT_RETENTION_MAX_SECONDS),
      expiryIntervalMs: e.OUTPUT_EXPIRY_INTERVAL_MS,
      expiryPageSize: e.OUTPUT_EXPIRY_PAGE_SIZE,
    },
    jobs: { pollIntervalMs: e.JOB_POLL_INTERVAL_MS, timeoutMs: e.JOB_TIMEOUT_MS },
    reconcile: { intervalMs: e.RECONCILE_INTERVAL_MS, graceMs: e.RECONCILE_GRACE_MS, batchLimit: e.RECONCILE_BATCH_LIMIT },
    stripe: {
      secretKey: e.STRIPE_SECRET_KEY,
      webhookSecret: e.STRIPE_WEBHOOK_SECRET,
      apiBase: e.STRIPE_API_BASE,
      webhookToleranceSeconds: e.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      successUrl: e.CHECKOUT_SUCCESS_URL,
      cancelUrl: e.CHECKOUT_CANCEL_URL,
    },
    credits: { successUrl: e.CREDITS_CHECKOUT_SUCCESS_URL, cancelUrl: e.CREDITS_CHECKOUT_CANCEL_URL },
    checkouts: { maxOpen: e.MAX_OPEN_CHECKOUTS },
    accounts: { maxActiveJobs: e.MAX_ACTIVE_JOBS_PER_ACCOUNT },
    uploads: {
      maxBytes: { image: e.UPLOAD_MAX_IMAGE_BYTES, audio: e.UPLOAD_MAX_AUDIO_BYTES, video: e.UPLOAD_MAX_VIDEO_BYTES },
      quotaBytes: e.UPLOAD_QUOTA_BYTES,
    },
    training: {
      trainerModel: e.TRAINER_MODEL,
      destinationOwner: e.TRAINING_DESTINATION_OWNER,
      steps: e.TRAINING_STEPS,
      minImages: e.TRAINING_MIN_IMAGES,
      maxImages: e.TRAINING_MAX_IMAGES,
      maxFileBytes: e.TRAINING_MAX_FILE_BYTES,
      maxTotalBytes: e.TRAINING_MAX_TOTAL_BYTES,
      minSidePx: e.TRAINING_MIN_SIDE_PX,
      timeoutMs: e.TRAINING_TIMEOUT_MS,
    },
    faceCheck: {
      training: e.FACE_CHECK_TRAINING,
      threads: e.FACE_CHECK_THREADS,
      maxQueued: e.FACE_CHECK_MAX_QUEUED,
      maxQueuedPerAccount: e.FACE_CHECK_MAX_QUEUED_PER_ACCOUNT,
      maxSidePx: e.FACE_CHECK_MAX_SIDE_PX,
      minScore: e.FACE_CHECK_MIN_SCORE,
      thresholds: {
        otherFaceMinRatio: e.FACE_CHECK_OTHER_FACE_MIN_RATIO,
        minFaceShare: e.FACE_CHECK_MIN_FACE_SHARE,
        minSharpness: e.FACE_CHECK_MIN_SHARPNESS,
        minLuma: e.FACE_CHECK_MIN_LUMA,
        maxClipped: e.FACE_CHECK_MAX_CLIPPED,
        maxDistance: e.FACE_CHECK_MAX_DISTANCE,
      },
    },
  };
}

/**
 * PROVIDER_OUTPUT_HOSTS as a list; outside production the provider's own host joins it, because
 * the local Replicate-compatible server serves its outputs from where its API is.
 */
function outputHosts(e: Env): string[] {
  const hosts = e.PROVIDER_OUTPUT_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  if (e.NODE_ENV !== 'production') hosts.push(new URL(e.REPLICATE_BASE_URL).hostname.toLowerCase());
  return [...new Set(hosts)];
}

/** TRUST_PROXY as Express takes it: true/false, a hop count, or the proxies' addresses. */
function parseTrustProxy(raw: string): boolean | number | string {
  const v = raw.trim();
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^\d+$/.test(v)) return Number(v);
  return v;
}
