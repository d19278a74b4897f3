-- CreateEnum
CREATE TYPE "payment_status" AS ENUM ('pending', 'paid', 'failed', 'expired');

-- CreateEnum
CREATE TYPE "version_status" AS ENUM ('queued', 'validating', 'uploading', 'training', 'succeeded', 'failed', 'canceled');

-- CreateEnum
CREATE TYPE "quota_movement" AS ENUM ('grant', 'reserve', 'commit', 'release');

-- CreateTable
CREATE TABLE "plans" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "images" INTEGER NOT NULL,
    "is_init" BOOLEAN NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "sort_order" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "plans_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "payments" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "plan_id" TEXT NOT NULL,
    "version_id" UUID,
    "status" "payment_status" NOT NULL DEFAULT 'pending',
    "promotion_code" TEXT,
    "checkout_session_id" TEXT,
    "checkout_url" TEXT,
    "payment_intent_id" TEXT,
    "amount_cents" INTEGER,
    "currency" TEXT,
    "customer_email" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paid_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "payments_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_versions" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "payment_id" UUID NOT NULL,
    "plan_id" TEXT NOT NULL,
    "status" "version_status" NOT NULL DEFAULT 'queued',
    "trigger_word" TEXT NOT NULL,
    "image_count" INTEGER NOT NULL,
    "progress" DOUBLE PRECISION,
    "workflow_id" TEXT NOT NULL,
    "request_id" TEXT,
    "upload_prefix" TEXT NOT NULL,
    "zip_key" TEXT,
    "provider_training_id" TEXT,
    "provider_model" TEXT,
    "provider_version" TEXT,
    "error_code" TEXT,
    "error_message" TEXT,
    "images_total" INTEGER NOT NULL DEFAULT 0,
    "images_used" INTEGER NOT NULL DEFAULT 0,
    "images_reserved" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "trained_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id"),
    -- The quota can never be oversold, whatever the code does.
    CONSTRAINT "model_versions_quota_check" CHECK ("images_used" >= 0 AND "images_reserved" >= 0 AND "images_used" + "images_reserved" <= "images_total")
);

-- CreateTable
CREATE TABLE "quota_ledger" (
    "id" UUID NOT NULL,
    "version_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "movement" "quota_movement" NOT NULL,
    "images" INTEGER NOT NULL,
    "payment_id" UUID,
    "prompt_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "quota_ledger_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "prompts" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "version_id" UUID NOT NULL,
    "prompt" TEXT NOT NULL,
    "negative_prompt" TEXT,
    "num_outputs" INTEGER NOT NULL,
    "seed" INTEGER,
    "width" INTEGER,
    "height" INTEGER,
    "parameters" JSONB NOT NULL DEFAULT '{}',
    "status" "job_status" NOT NULL DEFAULT 'queued',
    "workflow_id" TEXT NOT NULL,
    "workflow_run_id" TEXT,
    "request_id" TEXT,
    "provider_prediction_id" TEXT,
    "error_code" TEXT,
    "error_message" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "prompts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "prompt_images" (
    "id" UUID NOT NULL,
    "prompt_id" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "s3_key" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "width" INTEGER,
    "height" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "prompt_images_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "payments_checkout_session_id_key" ON "payments"("checkout_session_id");

-- CreateIndex
CREATE INDEX "payments_user_id_created_at_idx" ON "payments"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "payments_version_id_idx" ON "payments"("version_id");

-- CreateIndex
CREATE UNIQUE INDEX "model_versions_provider_training_id_key" ON "model_versions"("provider_training_id");

-- CreateIndex
CREATE INDEX "model_versions_user_id_created_at_id_idx" ON "model_versions"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "model_versions_payment_id_idx" ON "model_versions"("payment_id");

-- CreateIndex
CREATE INDEX "model_versions_status_updated_at_idx" ON "model_versions"("status", "updated_at");

-- CreateIndex
CREATE UNIQUE INDEX "quota_ledger_key_key" ON "quota_ledger"("key");

-- CreateIndex
CREATE INDEX "quota_ledger_version_id_created_at_idx" ON "quota_ledger"("version_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "prompts_provider_prediction_id_key" ON "prompts"("provider_prediction_id");

-- CreateIndex
CREATE INDEX "prompts_version_id_created_at_id_idx" ON "prompts"("version_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "prompts_status_updated_at_idx" ON "prompts"("status", "updated_at");

-- CreateIndex
CREATE UNIQUE INDEX "prompt_images_prompt_id_index_key" ON "prompt_images"("prompt_id", "index");

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_plan_id_fkey" FOREIGN KEY ("plan_id") REFERENCES "plans"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "payments" ADD CONSTRAINT "payments_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_payment_id_fkey" FOREIGN KEY ("payment_id") REFERENCES "payments"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "quota_ledger" ADD CONSTRAINT "quota_ledger_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "prompts" ADD CONSTRAINT "prompts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "prompts" ADD CONSTRAINT "prompts_version_id_fkey" FOREIGN KEY ("version_id") REFERENCES "model_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "prompt_images" ADD CONSTRAINT "prompt_images_prompt_id_fkey" FOREIGN KEY ("prompt_id") REFERENCES "prompts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Seed: the plans on sale (prices in the smallest currency unit).
INSERT INTO "plans" ("id", "name", "description", "price_cents", "currency", "images", "is_init", "sort_order") VALUES
    ('starter', 'Starter', 'Train your personal model and generate 50 images', 1900, 'usd', 50, true, 10),
    ('pro', 'Pro', 'Train your personal model and generate 200 images', 4900, 'usd', 200, true, 20),
    ('more-50', '50 more images', 'Add 50 images to a model you already trained', 900, 'usd', 50, false, 30),
    ('more-200', '200 more images', 'Add 200 images to a model you already trained', 2900, 'usd', 200, false, 40);
