-- Deadlines: a job not final by its deadline is canceled; one whose provider run never started
-- ends `aborted` (nothing was spent). The deadline is shown on the job.
ALTER TYPE "job_status" ADD VALUE IF NOT EXISTS 'aborted';
ALTER TABLE "jobs" ADD COLUMN "deadline_at" TIMESTAMPTZ(3);

-- Spend caps per API key: the key a job was accepted with, and the key's optional monthly budget
-- with its month's spend (credits reserved by its jobs accepted that UTC month, less what settling
-- them released: what they cost or still hold). The accept statement checks and counts it in the
-- same conditional update that reserves the credits; settling a reservation takes back the release.
ALTER TABLE "jobs" ADD COLUMN "api_key_id" UUID;
ALTER TABLE "api_keys" ADD COLUMN "monthly_credit_budget" INTEGER;
ALTER TABLE "api_keys" ADD COLUMN "spend_month" DATE;
ALTER TABLE "api_keys" ADD COLUMN "month_spent_credits" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_monthly_credit_budget_check" CHECK ("monthly_credit_budget" IS NULL OR "monthly_credit_budget" >= 0);
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_month_spent_credits_check" CHECK ("month_spent_credits" >= 0);
