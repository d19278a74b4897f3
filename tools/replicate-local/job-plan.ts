import { randomSeed } from './ids';
import { overridesInput } from './input-schemas';
import type { Job, JobPlan } from './jobs';
import { parseOrThrow } from './validation';

/** Share of a job's latency spent in "starting" before it turns "processing". */
const STARTING_SHARE = 0.2;

/** Applies the per-job input overrides `fake_latency_ms` and `fake_error` over the global defaults. */
export function planJob(rawInput: unknown, defaultLatencyMs: number, defaultError?: string): JobPlan {
  const overrides = parseOrThrow(overridesInput, rawInput, 'input');
  return { latencyMs: overrides.fake_latency_ms ?? defaultLatencyMs, error: overrides.fake_error ?? defaultError, seed: randomSeed() };
}

/**
 * Epoch ms at which `share` (0..1) of the processing phase is done; 0 = processing starts, 1 = completion.
 * Deadlines count from the job's creation, so a job resumed after a restart keeps its schedule
 * (and finishes at once if its time has already passed).
 */
export function processingDeadline(job: Job, share: number): number {
  const latencyShare = STARTING_SHARE + (1 - STARTING_SHARE) * share;
  return job.createdAt.getTime() + job.plan.latencyMs * latencyShare;
}
