import { activityInfo } from '@temporalio/activity';
import type { Provider, ProviderPrediction } from '../src/provider/replicate';
import { withProviderFailures } from './failures';

/** The fields of a prediction a workflow needs; small enough for history and signals. */
export interface PredictionSnapshot {
  id: string;
  status: ProviderPrediction['status'];
  version: string | null;
  output: unknown;
  error: unknown;
  metrics: Record<string, unknown> | null;
  startedAt: string | null;
  completedAt: string | null;
}

export function snapshot(p: ProviderPrediction): PredictionSnapshot {
  return {
    id: p.id,
    status: p.status,
    version: p.version ?? null,
    output: p.output ?? null,
    error: p.error ?? null,
    metrics: p.metrics ?? null,
    startedAt: p.started_at ?? null,
    completedAt: p.completed_at ?? null,
  };
}

/** Replicate API calls. They run on the rate-limited provider task queues. */
export function createProviderActivities({ provider }: { provider: Provider }) {
  return {
    async createPrediction(req: {
      model: string;
      input: Record<string, unknown>;
      webhookUrl: string | null;
    }): Promise<PredictionSnapshot & { attempts: number }> {
      const created = await withProviderFailures(() =>
        provider.createPrediction({
          model: req.model,
          input: req.input,
          webhook: req.webhookUrl ?? undefined,
          webhookEventsFilter: ['completed'],
        }),
      );
      return { ...snapshot(created), attempts: activityInfo().attempt };
    },

    async getPrediction(id: string): Promise<PredictionSnapshot> {
      return snapshot(await withProviderFailures(() => provider.getPrediction(id)));
    },

    async cancelPrediction(id: string): Promise<PredictionSnapshot> {
      return snapshot(await withProviderFailures(() => provider.cancelPrediction(id)));
    },
  };
}
