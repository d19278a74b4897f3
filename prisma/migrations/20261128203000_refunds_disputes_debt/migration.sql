-- Refunds and disputes take back what a payment granted, through the same ledgers; what was
-- already spent is owed and blocks new spending until paid. Reconciliation visits pending
-- checkouts least recently checked first.

-- Ledger movements for taking back, owing, giving back (a dispute won), forgiving owed
-- amounts, and paying a debt from new credits or images.
ALTER TYPE "credit_movement" ADD VALUE 'takeback';
ALTER TYPE "credit_movement" ADD VALUE 'owe';
ALTER TYPE "credit_movement" ADD VALUE 'giveback';
ALTER TYPE "credit_movement" ADD VALUE 'forgive';
ALTER TYPE "credit_movement" ADD VALUE 'debt_paid';
ALTER TYPE "quota_movement" ADD VALUE 'takeback';
ALTER TYPE "quota_movement" ADD VALUE 'owe';
ALTER TYPE "quota_movement" ADD VALUE 'giveback';
ALTER TYPE "quota_movement" ADD VALUE 'forgive';
ALTER TYPE "quota_movement" ADD VALUE 'debt_paid';

-- What a user or a model owes after a take-back found too little left.
ALTER TABLE "credit_balances" ADD COLUMN "owed" INTEGER NOT NULL DEFAULT 0,
ADD CONSTRAINT "credit_balances_owed_check" CHECK ("owed" >= 0);
ALTER TABLE "model_versions" ADD COLUMN "images_owed" INTEGER NOT NULL DEFAULT 0,
ADD CONSTRAINT "model_versions_images_owed_check" CHECK ("images_owed" >= 0);

-- Per payment and purchase: what Stripe refunded and what an open or lost dispute holds (cents),
-- what was taken back for it so far (images or credits), and when reconciliation last looked.
ALTER TABLE "payments" ADD COLUMN "refunded_cents" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "disputed_cents" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "taken_back" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "last_checked_at" TIMESTAMPTZ(3);
ALTER TABLE "credit_purchases" ADD COLUMN "refunded_cents" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "disputed_cents" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "taken_back" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN "last_checked_at" TIMESTAMPTZ(3);

-- A charge names its PaymentIntent: that is how a refund or dispute finds its payment.
CREATE INDEX "payments_payment_intent_id_idx" ON "payments"("payment_intent_id");
CREATE INDEX "credit_purchases_payment_intent_id_idx" ON "credit_purchases"("payment_intent_id");
CREATE INDEX "payments_status_last_checked_at_idx" ON "payments"("status", "last_checked_at");
CREATE INDEX "credit_purchases_status_last_checked_at_idx" ON "credit_purchases"("status", "last_checked_at");
