// Pure helpers over provider answers. Workflows import these.
import type { ProviderPrediction } from './replicate';

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

/** Output URLs of a finished prediction, whatever shape the model returns. */
export function outputUrls(output: unknown): string[] {
  if (typeof output === 'string') return /^https?:\/\//.test(output) ? [output] : [];
  if (Array.isArray(output)) return output.flatMap(outputUrls);
  if (output && typeof output === 'object') return Object.values(output).flatMap(outputUrls);
  return [];
}

/** Replicate reports `error` as a string, sometimes an object; make it a sentence. */
export function errorText(error: unknown): string {
  if (!error) return 'The model failed without a message';
  if (typeof error === 'string') return error;
  return JSON.stringify(error);
}

/** The last "NN%" in a trainer's logs (e.g. "flux_train:  45%|████▌ | 450/1000"), or null. */
export function progressFromLogs(logs: string | null | undefined): number | null {
  const matches = logs?.match(/(\d{1,3}(?:\.\d+)?)%/g);
  const last = matches?.[matches.length - 1];
  if (!last) return null;
  const value = Number(last.slice(0, -1));
  return value >= 0 && value <= 100 ? value : null;
}

/** A finished training's new version: output.version is "owner/name:<version id>". */
export function trainedVersion(output: unknown): { model: string; version: string } | null {
  const ref = (output as { version?: unknown } | null)?.version;
  if (typeof ref !== 'string') return null;
  const [model, version] = ref.split(':');
  return model && version ? { model, version } : null;
}
