import { Counter } from 'prom-client';
import { METRIC_PREFIX, registry } from './registry';

/**
 * Business counters. `kind` is the JobKind search attribute's value set: generation (POST
 * /generate), training (POST /versions/train) and prompt (POST /prompts/create).
 *
 *   started    incremented by the API when the workflow start was accepted by Temporal
 *   finished   incremented by the worker's activity that records the final state in Postgres,
 *              once per transition (a retried activity that finds the job finished adds nothing)
 */
export type WorkKind = 'generation' | 'training' | 'prompt';
export type Outcome = 'succeeded' | 'failed' | 'canceled';

export const jobsStarted = new Counter({
  name: `${METRIC_PREFIX}jobs_started_total`,
  help: 'Workflows started, by kind (generation job, training, prompt)',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const jobsFinished = new Counter({
  name: `${METRIC_PREFIX}jobs_finished_total`,
  help: 'Jobs, trainings and prompts that reached a final state, by kind and outcome',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const outputsStored = new Counter({
  name: `${METRIC_PREFIX}outputs_stored_total`,
  help: 'Output files (images) copied into our bucket and recorded, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const outputBytesStored = new Counter({
  name: `${METRIC_PREFIX}output_bytes_stored_total`,
  help: 'Bytes of output files copied into our bucket and recorded, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});

/** Provider runs that a retried create found and adopted instead of paying for a second one. */
export const predictionsAdopted = new Counter({
  name: `${METRIC_PREFIX}provider_runs_adopted_total`,
  help: 'Predictions and trainings a retried create adopted from an earlier attempt, by activity',
  labelNames: ['activity'] as const,
  registers: [registry],
});

/** Provider runs a workflow canceled because they were reported to it but are not its own. */
export const strayRunsCanceled = new Counter({
  name: `${METRIC_PREFIX}provider_stray_runs_canceled_total`,
  help: 'Predictions and trainings canceled because they were not the run their workflow uses',
  registers: [registry],
});

/**
 * Ledger movements: credits (src/credits/ledger.ts: topup, reserve, commit, release) and model
 * image quota (src/quota/ledger.ts: grant, reserve, commit, release). Each ledger's `record()`
 * is the one place every movement passes exactly once (its unique key makes a retry insert
 * nothing), in the API (purchases, job submission) and in the worker (settlements), so the
 * increment belongs there, one line after the INSERT:
 *   if (inserted.length === 1) countLedgerMovement('credits', row.movement, row.credits);
 *   if (inserted.length === 1) countLedgerMovement('quota', row.movement, row.images);
 */
export const creditMovements = new Counter({
  name: `${METRIC_PREFIX}credits_total`,
  help: 'Credits moved in the credit ledger, by movement (topup, reserve, commit, release)',
  labelNames: ['movement'] as const,
  registers: [registry],
});

export const quotaMovements = new Counter({
  name: `${METRIC_PREFIX}quota_images_total`,
  help: 'Images moved in the model image-quota ledger, by movement (grant, reserve, commit, release)',
  labelNames: ['movement'] as const,
  registers: [registry],
});

export function countLedgerMovement(ledger: 'credits' | 'quota', movement: string, amount: number): void {
  (ledger === 'credits' ? creditMovements : quotaMovements).inc({ movement }, amount);
}

/**
 * One call where a final state is recorded: the outcome, and for a success the outputs stored
 * with it. Called inside the recording transaction, after the state moved; a transaction that
 * then fails to commit is retried by Temporal and counted again (rare: at-least-once).
 */
export function recordFinished(kind: WorkKind, outcome: Outcome, outputs?: ReadonlyArray<{ sizeBytes: number }>): void {
  jobsFinished.inc({ kind, outcome });
  if (outputs) recordOutputsStored(kind, outputs);
}

/** Counts stored outputs and their bytes (one call where the rows are recorded). */
export function recordOutputsStored(kind: WorkKind, outputs: ReadonlyArray<{ sizeBytes: number }>): void {
  outputsStored.inc({ kind }, outputs.length);
  outputBytesStored.inc({ kind }, outputs.reduce((n, o) => n + o.sizeBytes, 0));
}

export const reconcileFindings = new Counter({
  name: `${METRIC_PREFIX}reconcile_findings_total`,
  help: 'Inconsistencies the reconciliation schedule found and repaired, by outcome (completed, failed, payment_updated, reservation_settled, still_running)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});
