// Pure helpers over provider answers. Workflows import these.

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
