-- Named API keys with rotation: a key may be given an end (the old key of a rotation keeps
-- working until expires_at), and last_used_at is written at most once a minute per key.
ALTER TABLE "api_keys"
    ADD COLUMN "name" TEXT NOT NULL DEFAULT 'default',
    ADD COLUMN "last_used_at" TIMESTAMPTZ(3),
    ADD COLUMN "expires_at" TIMESTAMPTZ(3);
