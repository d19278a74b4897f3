-- Refund and dispute events, kept per PaymentIntent: what a payment's refunds and disputes hold is
-- derived from all of them, so events that arrive before the payment is marked paid are applied
-- when it is, and dispute events that arrive out of order cannot reopen a closed dispute.
CREATE TABLE "stripe_charge_events" (
    "event_id" TEXT NOT NULL,
    "payment_intent_id" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "object_id" TEXT NOT NULL,
    "amount_cents" INTEGER NOT NULL,
    "amount_refunded_cents" INTEGER,
    "dispute_status" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "stripe_charge_events_pkey" PRIMARY KEY ("event_id"),
    CONSTRAINT "stripe_charge_events_kind_check" CHECK ("kind" IN ('refund', 'dispute'))
);
CREATE INDEX "stripe_charge_events_payment_intent_id_idx" ON "stripe_charge_events"("payment_intent_id");

-- Debt blocks spending on every ledger: the accept statement looks for a model of the user that owes images.
CREATE INDEX "model_versions_user_id_owing_idx" ON "model_versions"("user_id") WHERE "images_owed" > 0;
