import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
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

/** How the workflow cancels a run that was reported to it but is not its own. */
export interface StrayRuns {
  kind: 'prediction' | 'training';
  cancel: (req: { id: string; kind: 'prediction' | 'training' }) => Promise<void>;
}

/**
 * Completion arrives by webhook signal; a poll on a timer covers lost webhooks. The
 * wait returns the moment the signal lands, so the fallback adds no latency.
 * Must be created before the first await so no early signal is missed.
 *
 * Every run created for this workflow reports its start by webhook. One that is still
 * running and is not the run the workflow waits for is a duplicate that a create attempt
 * left behind (its answer was lost, and the retry's lookup missed it): it is canceled, so
 * nobody pays for it and the outputs come from exactly one run. Versioned: histories from
 * before this behaviour replay without it; a workflow (or path) written after it passes
 * `cancelStrays` true and asks no patch.
 */
export function trackPredictions(strays?: StrayRuns, cancelStrays = strays !== undefined && patched('cancel-stray-provider-runs')) {
  const finished = new Map<string, PredictionSnapshot>();
  /** Runs reported as started and not yet seen finished, with whether they were handled. */
  const running = new Map<string, { handled: boolean }>();
  let own: string | undefined;

  const record = (p: PredictionSnapshot) => {
    if (isTerminal(p)) {
      if (!finished.has(p.id)) finished.set(p.id, p);
      running.delete(p.id);
    } else if (!finished.has(p.id) && !running.has(p.id)) {
      running.set(p.id, { handled: false });
    }
  };
  setHandler(predictionUpdated, record);

  const strayIds = () => [...running].filter(([id, s]) => id !== own && !s.handled).map(([id]) => id);
  async function cancelStrayRuns(): Promise<void> {
    if (!cancelStrays || !strays) return;
    const ids = strayIds();
    ids.forEach((id) => (running.get(id)!.handled = true));
    // A failed cancel is not worth failing the job over; the metric and log show it.
    await Promise.all(ids.map((id) => strays.cancel({ id, kind: strays.kind }).catch(() => undefined)));
  }

  return {
    record,
    async waitFor(id: string, opts: WaitOptions): Promise<PredictionSnapshot> {
      own = id;
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        await cancelStrayRuns();
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
        const woken = () => finished.has(id) || (cancelStrays && strayIds().length > 0);
        if (await condition(woken, Math.min(opts.pollIntervalMs, remaining))) continue;
        record(await opts.poll(id));
      }
    },
  };
}
