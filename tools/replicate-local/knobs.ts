import { z } from 'zod';

/** Global behaviour switches of the local Replicate server (settable at start, by env and via /admin/knobs). */
export const knobsSchema = z.object({
  /** Total time from create to completion of a prediction (input `fake_latency_ms` overrides it). */
  latency_ms: z.int().min(0),
  /** Probability (0..1) that a prediction fails with a simulated model crash. */
  failure_rate: z.number().min(0).max(1),
  /** Max prediction creates per window; null or 0 = unlimited. */
  create_rate_limit_per_minute: z.int().min(0).nullable(),
  /** Max other API calls (get, cancel, models, trainings...) per window; null or 0 = unlimited. */
  other_rate_limit_per_minute: z.int().min(0).nullable(),
  /** Length of the rate-limit window (one minute like Replicate; shorten it in tests). */
  rate_limit_window_ms: z.int().min(1),
  /** Outputs are deleted this long after completion (Replicate deletes API outputs after an hour). */
  output_retention_ms: z.int().min(0),
  /** Send every webhook delivery twice with the same webhook-id. */
  duplicate_webhooks: z.boolean(),
  /** false = webhooks are silently dropped (simulates lost webhooks). */
  webhooks_enabled: z.boolean(),
  /** Retries of a failed terminal ("completed") webhook; intermediate webhooks are never retried, like Replicate. */
  webhook_max_retries: z.int().min(0),
  /** First retry delay; doubles on each further retry. */
  webhook_retry_base_ms: z.int().min(0),
  /** Total time of a training (input `fake_latency_ms` overrides it). */
  training_latency_ms: z.int().min(0),
  /** Step count shown in training progress logs when the input has no `steps`. */
  training_steps: z.int().min(1),
});

export type Knobs = z.infer<typeof knobsSchema>;

export const DEFAULT_KNOBS: Readonly<Knobs> = {
  latency_ms: 1000,
  failure_rate: 0,
  create_rate_limit_per_minute: null,
  other_rate_limit_per_minute: null,
  rate_limit_window_ms: 60_000,
  output_retention_ms: 3_600_000,
  duplicate_webhooks: false,
  webhooks_enabled: true,
  webhook_max_retries: 5,
  webhook_retry_base_ms: 2000,
  training_latency_ms: 3000,
  training_steps: 1000,
};

const knobsPatchSchema = knobsSchema.partial().strict();

/** Validates a partial knob update; throws a ZodError on unknown keys or bad values. */
export function parseKnobsPatch(patch: unknown): Partial<Knobs> {
  return knobsPatchSchema.parse(patch);
}

/** Validates a partial update and applies it to the live `knobs` in place; returns the applied changes. */
export function updateKnobs(knobs: Knobs, patch: unknown): Partial<Knobs> {
  const changes = parseKnobsPatch(patch);
  Object.assign(knobs, changes);
  return changes;
}

/** Env var name of a knob, e.g. latency_ms → REPLICATE_LOCAL_LATENCY_MS. */
function knobEnvName(key: keyof Knobs): string {
  return `REPLICATE_LOCAL_${key.toUpperCase()}`;
}

/** Reads knobs from REPLICATE_LOCAL_<KNOB> env vars (values are JSON: numbers, true/false, null). */
export function knobsFromEnv(env: NodeJS.ProcessEnv): Partial<Knobs> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(knobsSchema.shape) as (keyof Knobs)[]) {
    const raw = env[knobEnvName(key)];
    if (raw !== undefined && raw !== '') patch[key] = parseEnvValue(raw);
  }
  return parseKnobsPatch(patch);
}

function parseEnvValue(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
