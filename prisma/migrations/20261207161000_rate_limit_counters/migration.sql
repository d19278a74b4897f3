-- Request rate limit counters shared by every API process (src/http/rate-limit-store.ts): one row per
-- limiter key, whose window starts at its first hit. UNLOGGED: counters of the current minute are not
-- worth a WAL write, and a crash that empties the table only forgives one window.
CREATE UNLOGGED TABLE "rate_limit_counters" (
    "key" TEXT NOT NULL,
    "window_start" TIMESTAMPTZ(3) NOT NULL,
    "hits" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "rate_limit_counters_pkey" PRIMARY KEY ("key")
);
CREATE INDEX "rate_limit_counters_window_start_idx" ON "rate_limit_counters" ("window_start");
