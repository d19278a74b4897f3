-- Batches: up to 100 jobs sent in one request. The batch is the Idempotency-Key's owner (one per
-- account and key); each item is an ordinary job, created through the usual accept statement with
-- the item key `batch:<batch id>:<index>`, and carries its batch and index. `submitted_at` is set
-- once every item was tried (created or refused), `completed_at` once every created item is final.
CREATE TABLE "batches" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "kind" TEXT NOT NULL DEFAULT 'job',
    "size" INTEGER NOT NULL,
    "idempotency_key" TEXT,
    "request_hash" TEXT NOT NULL,
    "webhook" TEXT,
    "webhook_events_filter" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "rejected" JSONB NOT NULL DEFAULT '[]',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "submitted_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    CONSTRAINT "batches_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "batches_kind_check" CHECK ("kind" IN ('job')),
    CONSTRAINT "batches_size_check" CHECK ("size" BETWEEN 1 AND 100)
);
CREATE UNIQUE INDEX "batches_user_id_idempotency_key_key" ON "batches"("user_id", "idempotency_key");
CREATE INDEX "batches_user_id_created_at_idx" ON "batches"("user_id", "created_at" DESC);
ALTER TABLE "batches" ADD CONSTRAINT "batches_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "jobs" ADD COLUMN "batch_id" UUID;
ALTER TABLE "jobs" ADD COLUMN "batch_index" INTEGER;
CREATE INDEX "jobs_batch_id_idx" ON "jobs"("batch_id") WHERE "batch_id" IS NOT NULL;
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Output retention: how long a job's outputs are kept (from the request's `retention`, within
-- OUTPUT_RETENTION_MAX_SECONDS); each output's expiry is set when it is stored. Deleting outputs
-- (by request or on expiry) removes the objects and keeps the rows, marked `deleted_at`.
ALTER TABLE "jobs" ADD COLUMN "retention_seconds" INTEGER;
ALTER TABLE "job_outputs" ADD COLUMN "expires_at" TIMESTAMPTZ(3);
ALTER TABLE "job_outputs" ADD COLUMN "deleted_at" TIMESTAMPTZ(3);
-- Outputs stored before retention existed keep the default of 30 days from when they were stored.
UPDATE "job_outputs" SET "expires_at" = "created_at" + INTERVAL '30 days' WHERE "expires_at" IS NULL;
CREATE INDEX "job_outputs_expires_at_idx" ON "job_outputs"("expires_at") WHERE "deleted_at" IS NULL;

-- Webhook tools: what the receiver answered (the first 200 bytes), where a redirect pointed, and
-- whether the attempt was a redelivery asked for with POST /webhooks/deliveries/{id}/redeliver.
ALTER TABLE "webhook_deliveries" ADD COLUMN "response_excerpt" TEXT;
ALTER TABLE "webhook_deliveries" ADD COLUMN "redirect_location" TEXT;
ALTER TABLE "webhook_deliveries" ADD COLUMN "redelivery" BOOLEAN NOT NULL DEFAULT false;
