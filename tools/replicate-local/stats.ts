/** Counters exposed by `stats()` and GET /admin/stats. */
export interface Stats {
  predictions_created: number;
  predictions_succeeded: number;
  predictions_failed: number;
  predictions_canceled: number;
  trainings_created: number;
  trainings_succeeded: number;
  trainings_failed: number;
  trainings_canceled: number;
  /** 429 answers to prediction creates. */
  rate_limited_creates: number;
  /** 429 answers to every other API call. */
  rate_limited_other: number;
  /** Webhook HTTP deliveries answered with 2xx (duplicates included). */
  webhooks_sent: number;
  /** Webhook HTTP attempts that failed (non-2xx or network error), retries included. */
  webhook_deliveries_failed: number;
  /** Webhooks given up on (intermediate failure, or terminal after all retries). */
  webhooks_dropped: number;
  /** Webhooks not sent because `webhooks_enabled` is false. */
  webhooks_suppressed: number;
  /** Output files served. */
  files_served: number;
}

export function createStats(): Stats {
  return {
    predictions_created: 0,
    predictions_succeeded: 0,
    predictions_failed: 0,
    predictions_canceled: 0,
    trainings_created: 0,
    trainings_succeeded: 0,
    trainings_failed: 0,
    trainings_canceled: 0,
    rate_limited_creates: 0,
    rate_limited_other: 0,
    webhooks_sent: 0,
    webhook_deliveries_failed: 0,
    webhooks_dropped: 0,
    webhooks_suppressed: 0,
    files_served: 0,
  };
}
