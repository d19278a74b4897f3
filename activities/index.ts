import type { Db } from '../src/db/client';
import type { Provider } from '../src/provider/replicate';
import type { Storage } from '../src/storage/s3';
import { createJobActivities } from './jobs';
import { createOutputActivities } from './outputs';
import { createPromptActivities } from './prompts';
import { createProviderActivities } from './provider';
import { createTrainingActivities } from './training';

export interface ActivityDeps {
  db: Db;
  storage: Storage;
  provider: Provider;
  fetch?: typeof fetch;
}

/** Every activity, built from injected dependencies. The worker passes the real ones. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createJobActivities(deps),
    ...createProviderActivities(deps),
    ...createOutputActivities(deps),
    ...createTrainingActivities(deps),
    ...createPromptActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { CopiedOutput } from './outputs';
export type { TrainingSnapshot } from './training';
export type { PredictionSnapshot } from '../src/provider/prediction';
