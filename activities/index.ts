import type { Runtime } from '../src/runtime';
import { createInputActivities } from './inputs';
import { createJobActivities } from './jobs';
import { createOutputActivities } from './outputs';
import { createPromptActivities } from './prompts';
import { createProviderActivities } from './provider';
import { createReconcileActivities } from './reconcile';
import { createTrainingActivities } from './training';

export type ActivityDeps = Pick<Runtime, 'db' | 'storage' | 'provider' | 'outputFetcher' | 'stripe' | 'temporalClient'>;

/** Every activity, built from injected dependencies. The worker passes the real ones. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createJobActivities(deps),
    ...createInputActivities(deps),
    ...createProviderActivities(deps),
    ...createOutputActivities(deps),
    ...createTrainingActivities(deps),
    ...createPromptActivities(deps),
    ...createReconcileActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { CopiedOutput } from './outputs';
export type { TrainingSnapshot } from './training';
export type { PredictionSnapshot } from '../src/provider/prediction';
