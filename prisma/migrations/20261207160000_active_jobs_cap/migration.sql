-- Jobs an account has queued or running, counted next to its credits: the accept statement
-- refuses a job past MAX_ACTIVE_JOBS_PER_ACCOUNT in the same conditional update that reserves its
-- credits, and settling a job's reservation (exactly once per job) counts it out.
ALTER TABLE "credit_balances" ADD COLUMN "active_jobs" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "credit_balances" ADD CONSTRAINT "credit_balances_active_jobs_check" CHECK ("active_jobs" >= 0);

-- Jobs whose reservation is not settled yet are the active ones.
UPDATE "credit_balances" b
   SET "active_jobs" = a.n
  FROM (SELECT l.user_id, count(*)::int AS n
          FROM credit_ledger l
         WHERE l.movement = 'reserve' AND l.job_id IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM credit_ledger r WHERE r.key = 'release:' || l.job_id::text)
         GROUP BY l.user_id) a
 WHERE b.user_id = a.user_id;
