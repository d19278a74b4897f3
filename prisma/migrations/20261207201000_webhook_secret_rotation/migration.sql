-- Webhook signing secrets can be rotated: the replaced secret keeps signing next to the new one
-- until previous_expires_at. Both are stored encrypted (`enc1:` AES-256-GCM under
-- WEBHOOK_SECRET_ENCRYPTION_KEY); rows written before hold plaintext `whsec_…` and are encrypted by
-- the application the next time it reads them (SQL does not know the key).
ALTER TABLE "webhook_secrets" ADD COLUMN "previous_secret" TEXT;
ALTER TABLE "webhook_secrets" ADD COLUMN "previous_expires_at" TIMESTAMPTZ(3);
ALTER TABLE "webhook_secrets" ADD COLUMN "rotated_at" TIMESTAMPTZ(3);
