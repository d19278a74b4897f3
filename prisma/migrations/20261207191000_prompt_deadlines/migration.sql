-- Prompts take deadlines like jobs (Cancel-After or `deadline`): not final by then, canceled;
-- never started, `aborted`; the images they reserved are released either way.
ALTER TABLE "prompts" ADD COLUMN "deadline_at" TIMESTAMPTZ(3);
