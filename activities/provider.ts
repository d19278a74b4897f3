import { activityInfo, log } from '@temporalio/activity';
import { predictionsAdopted, strayRunsCanceled } from '../src/metrics/business';
import { type PredictionSnapshot, snapshot } from '../src/provider/prediction';
import type { Provider } from '../src/provider/replicate';
import { forWorkflowRun } from '../src/provider/webhook-url';
import { withProviderFailures } from './failures';

/**
 * Provider clocks and ours differ a little; a lookup for an earlier attempt's run starts this
 * long before the activity was first scheduled.
 */
export const LOOKUP_CLOCK_SLACK_MS = 60_000;

/**
 * Runs a provider create so that a retry never pays twice: Replicate has no idempotency key,
 * so an attempt after the first looks for the run an earlier attempt created (the create may
 * have reached the provider before its answer was lost to a timeout, a 5xx or a dead worker)
 * and adopts it. The run is recognised by its webhook URL, which names this workflow run
 * (`runWebhook`), so another job's run with the same input is never taken; without a webhook
 * there is nothing to recognise it by, and no lookup. A run the lookup misses is still caught:
 * its `start` webhook reaches the workflow, which cancels any run that is not its own
 * (workflows/prediction-wait.ts).
 */
export async function createOnce<T extends { id: string }>(
  webhook: string | undefined,
  create: () => Promise<T>,
  findEarlier: (lookup: { webhook: string; createdAfter: Date }) => Promise<T | null>,
): Promise<T> {
  const info = activityInfo();
  if (info.attempt > 1 && webhook) {
    const createdAfter = new Date(info.scheduledTimestampMs - LOOKUP_CLOCK_SLACK_MS);
    const earlier = await withProviderFailures(() => findEarlier({ webhook, createdAfter }));
    if (earlier) {
      log.info('Adopted the run an earlier attempt created', { providerId: earlier.id, attempt: info.attempt });
      predictionsAdopted.inc({ activity: info.activityType });
      return earlier;
    }
  }
  return withProviderFailures(create);
}

/** The workflow's webhook URL, naming the workflow run the provider's run belongs to. */
export function runWebhook(webhookUrl: string | null): string | undefined {
  if (!webhookUrl) return undefined;
  const runId = activityInfo().workflowExecution?.runId;
  return runId ? forWorkflowRun(webhookUrl, runId) : webhookUrl;
}

/** What a prediction is created for: a generation job, or a prompt and the images it reserves on its model. */
export type RunOwner = { job: string } | { prompt: { promptId: string; versionId: string; images: number } };

/** Records a run on its owner's row (activities/index.ts binds it to the job and prompt activities). */
export interface RunRecorder {
  /** What must hold before the run is created (a prompt's images reserved). Idempotent. */
  beforeCreate(owner: RunOwner): Promise<void>;
  /**
   * The run started: the owner moves to running with its provider id. Idempotent. False when the
   * owner had already ended (canceled, or its deadline passed, while the run was being created):
   * nobody waits for the run, and what the owner reserved for it is released.
   */
  created(owner: RunOwner, run: PredictionSnapshot & { attempts: number }): Promise<boolean>;
}

/**
 * Replicate API calls. They run on the rate-limited provider task queues. A create for a job
 * or prompt also records it on its owner (reserving first where the owner needs it), in the same
 * activity: one step the engine schedules and bills instead of two or three, and a retry after a
 * failed record adopts the run it created.
 */
export function createProviderActivities({ provider, runs }: { provider: Provider; runs: RunRecorder }) {
  return {
    async createPrediction(req: {
      model: string;
      input: Record<string, unknown>;
      webhookUrl: string | null;
      /** Whose run it is, to record it on (absent: the caller records it itself). */
      owner?: RunOwner;
    }): Promise<PredictionSnapshot & { attempts: number }> {
      if (req.owner) await runs.beforeCreate(req.owner);
      const webhook = runWebhook(req.webhookUrl);
      const created = await createOnce(
        webhook,
        () =>
          provider.createPrediction({
            model: req.model,
            input: req.input,
            webhook,
            // `start` tells the workflow about every run created for it, so it can cancel a stray one.
            webhookEventsFilter: ['start', 'completed'],
          }),
        (lookup) => provider.findPrediction({ model: req.model, input: req.input, ...lookup }),
      );
      const run = { ...snapshot(created), attempts: activityInfo().attempt };
      if (req.owner && !(await runs.created(req.owner, run))) {
        // Its job or prompt ended while this activity created the run (a cancel does not reach an
        // activity that never heartbeats, and the workflow no longer waits for it): stop it here,
        // or it would run on at the provider, paid by us and watched by nobody.
        await withProviderFailures(() => provider.cancelPrediction(run.id));
        log.warn('Canceled a run created after its owner ended', { providerId: run.id });
        strayRunsCanceled.inc();
      }
      return run;
    },

    async getPrediction(id: string): Promise<PredictionSnapshot> {
      return snapshot(await withProviderFailures(() => provider.getPrediction(id)));
    },

    async cancelPrediction(id: string): Promise<PredictionSnapshot> {
      return snapshot(await withProviderFailures(() => provider.cancelPrediction(id)));
    },

    /**
     * Cancels a prediction or training that was reported to a workflow but is not the run it
     * uses: a duplicate an earlier create attempt left running. Counted and logged, since each
     * one was a create the lookup could not find.
     */
    async cancelStrayRun(req: { id: string; kind: 'prediction' | 'training' }): Promise<void> {
      const canceled = await withProviderFailures(() => (req.kind === 'training' ? provider.cancelTraining(req.id) : provider.cancelPrediction(req.id)));
      log.warn('Canceled a stray provider run', { providerId: req.id, kind: req.kind, status: canceled.status });
      strayRunsCanceled.inc();
    },
  };
}
