import { ApplicationFailure } from '@temporalio/activity';
import { ErrorCode, PROVIDER_NON_RETRYABLE } from '../src/error-codes';
import { ProviderError, classify } from '../src/provider/replicate';

/**
 * Turns a provider failure into the ApplicationFailure Temporal's retry policy acts on:
 * its type is our error code; a 429 carries the provider's reset time as nextRetryDelay;
 * validation, auth and not-found errors are final.
 */
export function providerFailure(err: unknown): ApplicationFailure {
  const e: ProviderError = classify(err);
  return ApplicationFailure.create({
    message: e.message,
    type: e.code,
    nonRetryable: PROVIDER_NON_RETRYABLE.includes(e.code),
    nextRetryDelay: e.code === ErrorCode.providerRateLimited ? `${e.retryAfterSeconds ?? 10} seconds` : undefined,
    details: [{ status: e.status }],
  });
}

export async function withProviderFailures<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw providerFailure(err);
  }
}
