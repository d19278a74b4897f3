import type { Db } from '../src/db/client';
import type { Provider } from '../src/provider/replicate';
import type { Storage } from '../src/storage/s3';
import { createJobActivities } from './jobs';
import { createOutputActivities } from './outputs';
import { createProviderActivities } from './provider';

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
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { CopiedOutput } from './outputs';
export type { PredictionSnapshot } from '../src/provider/prediction';
