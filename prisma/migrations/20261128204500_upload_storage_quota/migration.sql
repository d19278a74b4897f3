-- Bytes of job input uploads each user has stored or reserved (an upload in flight reserves its
-- bytes before they reach the disk), so UPLOAD_QUOTA_BYTES holds under concurrent uploads
-- (src/uploads/quota.ts). Starts from what is stored today.

-- AlterTable
ALTER TABLE "users" ADD COLUMN "upload_bytes" BIGINT NOT NULL DEFAULT 0;
ALTER TABLE "users" ADD CONSTRAINT "users_upload_bytes_check" CHECK ("upload_bytes" >= 0);

UPDATE "users" u SET "upload_bytes" = s.total
FROM (SELECT "user_id", SUM("size_bytes")::BIGINT AS total FROM "uploads" GROUP BY "user_id") s
WHERE u."id" = s."user_id";
