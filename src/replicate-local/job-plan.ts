import { overridesInput } from './input-schemas';
import type { Job } from './jobs';
import { parseOrThrow } from './validation';

/** Share of a job's latency spent in "starting" before it turns "processing". */
const STARTING_SHARE = 0.2;

/** How a job will run: its total latency and, if it is to fail, the error. */
export interface JobPlan {
  latencyMs: number;
  error: string | undefined;
}

/** Applies the per-job input overrides `fake_latency_ms` and `fake_error` over the global defaults. */
export function planJob(rawInput: unknown, defaultLatencyMs: number, defaultError?: string): JobPlan {
  const overrides = parseOrThrow(overridesInput, rawInput, 'input');
  return { latencyMs: overrides.fake_latency_ms ?? defaultLatencyMs, error: overrides.fake_error ?? defaultError };
}

/** Epoch ms at which `share` (0..1) of the processing phase is done; 0 = processing starts, 1 = completion. */
export function processingDeadline(job: Job, plan: JobPlan, share: number): number {
  const latencyShare = STARTING_SHARE + (1 - STARTING_SHARE) * share;
  return job.createdAt.getTime() + plan.latencyMs * latencyShare;
}
