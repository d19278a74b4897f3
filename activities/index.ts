import type { Dependencies } from '../src/dependencies';
import { createEventActivities } from './events';
import { createInputActivities } from './inputs';
import { createJobActivities } from './jobs';
import { createOutputActivities, type RecordOutputs } from './outputs';
import { createOutputExpiryActivities } from './outputs-expiry';
import { createPromptActivities } from './prompts';
import { createProviderActivities } from './provider';
import { createReconcileActivities } from './reconcile';
import { createTrainingActivities } from './training';
import { createWebhookActivities } from './webhooks-out';

export type ActivityDeps = Pick<Dependencies, 'db' | 'storage' | 'provider' | 'outputFetcher' | 'stripe' | 'temporalClient' | 'production' | 'webhooks'>;

/**
 * Every activity, grouped by the task queue it runs on and the option preset it runs under
 * (workflows/activity-options.ts). Each workflow stub is typed by its own group, and each
 * task queue's worker registers only its queue's groups (src/worker.ts), so the compiler and
 * the worker keep provider calls on the rate-limited queues and every step under its preset:
 *
 *   group            task queue                   preset
 *   database         main                         databaseStep
 *   outputs          main                         outputCopy
 *   images           main                         imageProcessing
 *   stripe           main                         stripeCall
 *   webhooks         <main>-webhooks              webhookDelivery (outbound webhooks, own few slots)
 *   providerCreate   <main>-replicate-create      providerCreate (rate-limited creates)
 *   providerCalls    <main>-replicate-calls       providerCall (every other Replicate call)
 */
export function createActivityGroups(deps: ActivityDeps) {
  const jobs = createJobActivities(deps);
  const prompts = createPromptActivities(deps);
  const training = createTrainingActivities(deps);
  const provider = createProviderActivities({
    ...deps,
    runs: {
      beforeCreate: async (owner) => {
        if ('prompt' in owner) await prompts.reservePromptImages(owner.prompt);
      },
      created: (owner, run) =>
        'job' in owner
          ? jobs.markJobRunning({ jobId: owner.job, predictionId: run.id, modelVersion: run.version, retryCount: run.attempts - 1 })
          : prompts.markPromptRunning({ promptId: owner.prompt.promptId, versionId: owner.prompt.versionId, predictionId: run.id }),
    },
  });
  const recordOutputs: RecordOutputs = (owner, outputs) =>
    'job' in owner ? jobs.completeJob({ ...owner.job, outputs }) : prompts.completePrompt({ ...owner.prompt, images: outputs });
  const { syncCheckoutSession, ...reconcile } = createReconcileActivities(deps);
  const { buildTrainingZip, ensureDestinationModel, createTraining, getTraining, cancelTraining, ...trainingState } = training;
  const { createPrediction, ...providerReads } = provider;

  return {
    database: { ...jobs, ...prompts, ...trainingState, ...createInputActivities(deps), ...createEventActivities(deps), ...reconcile, ...createOutputExpiryActivities(deps) },
    outputs: createOutputActivities({ ...deps, recordOutputs }),
    images: { buildTrainingZip },
    stripe: { syncCheckoutSession },
    webhooks: createWebhookActivities(deps),
    providerCreate: { createPrediction, createTraining },
    providerCalls: { ...providerReads, ensureDestinationModel, getTraining, cancelTraining },
  };
}

export type ActivityGroups = ReturnType<typeof createActivityGroups>;
export type DatabaseActivities = ActivityGroups['database'];
export type OutputActivities = ActivityGroups['outputs'];
export type ImageActivities = ActivityGroups['images'];
export type StripeActivities = ActivityGroups['stripe'];
export type WebhookActivities = ActivityGroups['webhooks'];
export type ProviderCreateActivities = ActivityGroups['providerCreate'];
export type ProviderCallActivities = ActivityGroups['providerCalls'];

/** Which groups each task queue's worker registers. */
export const QUEUE_GROUPS = {
  main: ['database', 'outputs', 'images', 'stripe'],
  webhooks: ['webhooks'],
  providerCreate: ['providerCreate'],
  providerCalls: ['providerCalls'],
} as const satisfies Record<string, ReadonlyArray<keyof ActivityGroups>>;

/**
 * Groups that moved off the main queue. An activity's retries stay on the queue its first
 * attempt was scheduled on, so the main worker still runs these groups' tasks that were
 * scheduled there before the move; nothing new is scheduled there. Deliveries moved to the
 * webhooks queue: remove 'webhooks' here once 25 hours (their schedule-to-close) have passed
 * since every worker runs the move.
 */
export const DRAINING_ON_MAIN = ['webhooks'] as const satisfies ReadonlyArray<keyof ActivityGroups>;

/** Every activity in one object, for tests that call or replace single activities by name. */
export function createActivities(deps: ActivityDeps): Activities {
  return Object.assign({}, ...Object.values(createActivityGroups(deps))) as Activities;
}

type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I : never;
export type Activities = UnionToIntersection<ActivityGroups[keyof ActivityGroups]>;

export type { CopiedOutput, OutputsOwner } from './outputs';
export type { RunOwner } from './provider';
export type { TrainingSnapshot } from './training';
export type { PredictionSnapshot } from '../src/provider/prediction';
