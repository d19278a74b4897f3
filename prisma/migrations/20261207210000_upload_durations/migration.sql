-- Audio uploads record their playing time, read from the file's headers at upload
-- (src/uploads/audio-duration.ts); null when the headers give none, for other kinds, and for
-- uploads from before this (SQL cannot read the files in the bucket).
ALTER TABLE "uploads" ADD COLUMN "duration_ms" INTEGER;
ALTER TABLE "uploads" ADD CONSTRAINT "uploads_duration_ms_check" CHECK ("duration_ms" >= 0);
