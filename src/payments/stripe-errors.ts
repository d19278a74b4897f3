import { AppError, ErrorCode } from '../errors';
import type { Stripe } from '../stripe/client';

/**
 * Stripe failures as API errors: 503 for what may pass (network, Stripe 5xx, rate limit), 502
 * for what will not (Stripe refused the request).
 */
export function paymentProviderError(stripe: Stripe, err: unknown, what: string): AppError {
  const status = (err as { statusCode?: number }).statusCode;
  const transient =
    !(err instanceof stripe.errors.StripeError) ||
    err instanceof stripe.errors.StripeConnectionError ||
    err instanceof stripe.errors.StripeRateLimitError ||
    status === undefined ||
    status >= 500 ||
    status === 429;
  const message = transient
    ? `${what}: the payment provider is unavailable. No payment was started; try again shortly.`
    : `${what}: the payment provider refused the request. No payment was started.`;
  return new AppError(transient ? 503 : 502, ErrorCode.paymentProviderUnavailable, message, {
    provider: 'stripe',
    ...(err instanceof stripe.errors.StripeError ? { provider_error: err.type, provider_status: status ?? null } : {}),
  });
}

/**
 * The failure type of a Stripe error in an activity: a refusal no retry can fix gets a code
 * the stripeCall preset lists as non-retryable (workflows/activity-options.ts); anything else
 * (network, 5xx, rate limit) is undefined and retried.
 */
export function stripeFailureType(stripe: Stripe, err: unknown): ErrorCode | undefined {
  if (err instanceof stripe.errors.StripeCardError) return ErrorCode.stripeCardError;
  if (err instanceof stripe.errors.StripeInvalidRequestError) return ErrorCode.stripeInvalidRequest;
  if (err instanceof stripe.errors.StripeAuthenticationError || err instanceof stripe.errors.StripePermissionError) return ErrorCode.stripeAuthFailed;
  return undefined;
}
