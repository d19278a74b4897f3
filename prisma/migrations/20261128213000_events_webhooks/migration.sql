-- Resource events (the outbox): one row per status change, training progress, stored output
-- and completion, written in the same transaction as the change. Server-Sent Events streams
-- read them by id, and outbound webhooks are delivered from them (src/events, src/webhooks-out).

-- CreateTable
CREATE TABLE "resource_events" (
    "id" BIGSERIAL NOT NULL,
    "resource_type" TEXT NOT NULL,
    "resource_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "resource_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "resource_events_resource_type_resource_id_id_idx" ON "resource_events"("resource_type", "resource_id", "id");

-- Each user's webhook signing secret (whsec_ + base64), created on first use; stored as is.
CREATE TABLE "webhook_secrets" (
    "user_id" UUID NOT NULL,
    "secret" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_secrets_pkey" PRIMARY KEY ("user_id")
);
ALTER TABLE "webhook_secrets" ADD CONSTRAINT "webhook_secrets_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Every attempt to deliver an event to a resource's webhook.
CREATE TABLE "webhook_deliveries" (
    "id" BIGSERIAL NOT NULL,
    "event_id" BIGINT NOT NULL,
    "resource_type" TEXT NOT NULL,
    "resource_id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "event" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status_code" INTEGER,
    "duration_ms" INTEGER NOT NULL,
    "error" TEXT,
    "next_retry_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_deliveries_resource_type_resource_id_id_idx" ON "webhook_deliveries"("resource_type", "resource_id", "id");

-- The webhook a job, prompt or training was created with, and which events it wants (empty: all).
ALTER TABLE "jobs" ADD COLUMN "webhook" TEXT, ADD COLUMN "webhook_events_filter" TEXT[] DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "prompts" ADD COLUMN "webhook" TEXT, ADD COLUMN "webhook_events_filter" TEXT[] DEFAULT ARRAY[]::TEXT[];
ALTER TABLE "model_versions" ADD COLUMN "webhook" TEXT, ADD COLUMN "webhook_events_filter" TEXT[] DEFAULT ARRAY[]::TEXT[];
