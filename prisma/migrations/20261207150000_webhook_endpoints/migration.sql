-- One row per webhook endpoint (an account and the exact URL it gave): the circuit breaker of
-- outbound deliveries (src/webhooks-out/breaker.ts). After WEBHOOK_BREAKER_FAILURES consecutive
-- failed attempts the endpoint is paused (paused_until, doubling with each failed probe); an
-- endpoint whose attempts have all failed since failing_since for WEBHOOK_DISABLE_AFTER_MS is
-- disabled until its owner re-enables it. A success closes the breaker.

-- CreateTable
CREATE TABLE "webhook_endpoints" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "user_id" UUID NOT NULL,
    "url" TEXT NOT NULL,
    "consecutive_failures" INTEGER NOT NULL DEFAULT 0,
    "pauses" INTEGER NOT NULL DEFAULT 0,
    "failing_since" TIMESTAMPTZ(3),
    "last_failure_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_success_at" TIMESTAMPTZ(3),
    "paused_until" TIMESTAMPTZ(3),
    "probe_until" TIMESTAMPTZ(3),
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "webhook_endpoints_user_id_url_key" ON "webhook_endpoints"("user_id", "url");
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
