-- CreateEnum
CREATE TYPE "model_kind" AS ENUM ('image', 'audio', 'video');

-- CreateEnum
CREATE TYPE "price_unit" AS ENUM ('run', 'output');

-- CreateEnum
CREATE TYPE "credit_movement" AS ENUM ('topup', 'reserve', 'commit', 'release');

-- AlterTable
ALTER TABLE "jobs" ALTER COLUMN "prompt" DROP NOT NULL,
ALTER COLUMN "output_format" DROP NOT NULL,
ADD COLUMN     "price_unit" "price_unit",
ADD COLUMN     "price_credits" INTEGER,
ADD COLUMN     "credits_spent" INTEGER,
ADD COLUMN     "input_upload_id" UUID;

-- CreateTable
CREATE TABLE "catalog_models" (
    "name" TEXT NOT NULL,
    "kind" "model_kind" NOT NULL,
    "description" TEXT NOT NULL,
    "takes_prompt" BOOLEAN NOT NULL,
    "file_field" TEXT,
    "file_types" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "price_unit" "price_unit" NOT NULL,
    "price_credits" INTEGER NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "sort_order" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "catalog_models_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "credit_balances" (
    "user_id" UUID NOT NULL,
    "credits" INTEGER NOT NULL DEFAULT 0,
    "reserved" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credit_balances_pkey" PRIMARY KEY ("user_id"),
    -- Credits can never be overspent, whatever the code does.
    CONSTRAINT "credit_balances_check" CHECK ("credits" >= 0 AND "reserved" >= 0)
);

-- CreateTable
CREATE TABLE "credit_ledger" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "key" TEXT NOT NULL,
    "movement" "credit_movement" NOT NULL,
    "credits" INTEGER NOT NULL,
    "job_id" UUID,
    "purchase_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credit_ledger_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credit_packs" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "credits" INTEGER NOT NULL,
    "price_cents" INTEGER NOT NULL,
    "currency" TEXT NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "sort_order" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credit_packs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "credit_purchases" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "pack_id" TEXT NOT NULL,
    "credits" INTEGER NOT NULL,
    "status" "payment_status" NOT NULL DEFAULT 'pending',
    "checkout_session_id" TEXT,
    "checkout_url" TEXT,
    "payment_intent_id" TEXT,
    "amount_cents" INTEGER,
    "currency" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "paid_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "credit_purchases_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "uploads" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "s3_key" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "size_bytes" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "uploads_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "credit_ledger_key_key" ON "credit_ledger"("key");

-- CreateIndex
CREATE INDEX "credit_ledger_user_id_created_at_idx" ON "credit_ledger"("user_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "credit_purchases_checkout_session_id_key" ON "credit_purchases"("checkout_session_id");

-- CreateIndex
CREATE INDEX "credit_purchases_user_id_created_at_idx" ON "credit_purchases"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "uploads_user_id_idx" ON "uploads"("user_id");

-- AddForeignKey
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_input_upload_id_fkey" FOREIGN KEY ("input_upload_id") REFERENCES "uploads"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_balances" ADD CONSTRAINT "credit_balances_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_ledger" ADD CONSTRAINT "credit_ledger_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_purchases" ADD CONSTRAINT "credit_purchases_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "credit_purchases" ADD CONSTRAINT "credit_purchases_pack_id_fkey" FOREIGN KEY ("pack_id") REFERENCES "credit_packs"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Seed: the models generic jobs may run, and their prices in credits.
INSERT INTO "catalog_models" ("name", "kind", "description", "takes_prompt", "file_field", "file_types", "price_unit", "price_credits", "sort_order") VALUES
    ('black-forest-labs/flux-schnell', 'image', 'Fast text-to-image', true, NULL, '{}', 'output', 2, 10),
    ('stability-ai/sdxl', 'image', 'SDXL text-to-image', true, NULL, '{}', 'output', 3, 20),
    ('stability-ai/stable-diffusion-img2img', 'image', 'Image-to-image: transforms your image following the prompt', true, 'image', '{image/jpeg,image/png,image/webp}', 'output', 3, 30),
    ('meta/musicgen', 'audio', 'Text-to-music (WAV)', true, NULL, '{}', 'run', 5, 40),
    ('resemble-ai/resemble-enhance', 'audio', 'Speech enhancement: denoises and restores your recording (WAV)', false, 'input_audio', '{audio/wav,audio/mpeg,audio/flac,audio/ogg}', 'run', 4, 50);

-- Seed: the credit packs on sale (prices in the smallest currency unit).
INSERT INTO "credit_packs" ("id", "name", "description", "credits", "price_cents", "currency", "sort_order") VALUES
    ('credits-100', '100 credits', '100 credits for image and audio jobs', 100, 500, 'usd', 10),
    ('credits-500', '500 credits', '500 credits for image and audio jobs', 500, 2000, 'usd', 20),
    ('credits-2000', '2000 credits', '2000 credits for image and audio jobs', 2000, 6000, 'usd', 30);
