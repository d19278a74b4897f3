import { activityInfo } from '@temporalio/activity';
import { type PredictionSnapshot, snapshot } from '../src/provider/prediction';
import type { Provider } from '../src/provider/replicate';
import { withProviderFailures } from './failures';

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
