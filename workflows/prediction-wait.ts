import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { PredictionSnapshot } from '../src/provider/prediction';
import { ErrorCode } from '../src/error-codes';
import { predictionUpdated } from './signals';

const TERMINAL = new Set<PredictionSnapshot['status']>(['succeeded', 'failed', 'canceled']);
export const isTerminal = (p: PredictionSnapshot): boolean => TERMINAL.has(p.status);

export interface WaitOptions {
  pollIntervalMs: number;
  timeoutMs: number;
  poll: (id: string) => Promise<PredictionSnapshot>;
  cancel: (id: string) => Promise<unknown>;
}

/**
 * Completion arrives by webhook signal; a poll on a timer covers lost webhooks. The
 * wait returns the moment the signal lands, so the fallback adds no latency.
 * Must be created before the first await so no early signal is missed.
 */
export function trackPredictions() {
  const finished = new Map<string, PredictionSnapshot>();
  const record = (p: PredictionSnapshot) => {
    if (isTerminal(p) && !finished.has(p.id)) finished.set(p.id, p);
  };
  setHandler(predictionUpdated, record);

  return {
    record,
    async waitFor(id: string, opts: WaitOptions): Promise<PredictionSnapshot> {
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        const done = finished.get(id);
        if (done) return done;
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          await opts.cancel(id).catch(() => undefined);
          throw ApplicationFailure.nonRetryable(
            `The provider did not finish within ${Math.round(opts.timeoutMs / 1000)} s`,
            ErrorCode.predictionTimedOut,
          );
        }
        if (await condition(() => finished.has(id), Math.min(opts.pollIntervalMs, remaining))) continue;
        record(await opts.poll(id));
      }
    },
  };
}
