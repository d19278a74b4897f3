import { ErrorCode } from '../../src/error-codes';
import { createProvider, retryAfterSeconds } from '../../src/provider/replicate';
import { errorText, outputUrls } from '../../src/provider/prediction';
import { providerFailure } from '../../activities/failures';

/** A provider whose HTTP answers are canned, to check how each one is classified. */
function providerAnswering(status: number, body: object, headers: Record<string, string> = {}) {
  let calls = 0;
  const fetchImpl = (async () => {
    calls += 1;
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
  }) as typeof fetch;
  return { provider: createProvider({ apiToken: 't', baseUrl: 'http://127.0.0.1:9/v1', fetch: fetchImpl }), calls: () => calls };
}

describe('provider error mapping', () => {
  it('when the provider answers 429, then it fails once (no hidden SDK retry loop) with the reset time', async () => {
    const { provider, calls } = providerAnswering(429, { detail: 'Request was throttled. Your rate limit resets in ~7s.' });
    const err = await provider.createPrediction({ model: 'a/b', input: {} }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.providerRateLimited, status: 429, retryAfterSeconds: 7 });
    expect(calls()).toBe(1);
    const failure = providerFailure(err);
    expect(failure.type).toBe(ErrorCode.providerRateLimited);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.nextRetryDelay).toBe('7 seconds');
  });

  it('when a GET answers 503, then it fails once as retryable provider_unavailable', async () => {
    const { provider, calls } = providerAnswering(503, { detail: 'down' });
    const err = await provider.getPrediction('x').catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.providerUnavailable, status: 503 });
    expect(calls()).toBe(1);
    expect(providerFailure(err).nonRetryable).toBe(false);
  });

  it.each([
    [422, ErrorCode.providerValidationFailed],
    [404, ErrorCode.providerNotFound],
    [401, ErrorCode.providerAuthFailed],
  ])('when the provider answers %i, then the failure is %s and not retryable', async (status, code) => {
    const { provider } = providerAnswering(status, { detail: 'input.num_outputs must be <= 4' });
    const err = await provider.createPrediction({ model: 'a/b', input: {} }).catch((e) => e);
    expect(err.code).toBe(code);
    expect(err.message).toContain('input.num_outputs must be <= 4');
    expect(providerFailure(err)).toMatchObject({ type: code, nonRetryable: true });
  });

  it('when the network fails, then it is retryable provider_unavailable', async () => {
    const provider = createProvider({ apiToken: 't', baseUrl: 'http://127.0.0.1:9/v1', fetch: (async () => { throw new TypeError('fetch failed'); }) as typeof fetch });
    const err = await provider.getPrediction('x').catch((e) => e);
    expect(err.code).toBe(ErrorCode.providerUnavailable);
  });

  it('reads reset times from Retry-After or the detail text', () => {
    expect(retryAfterSeconds('3', '')).toBe(3);
    expect(retryAfterSeconds(null, 'Your rate limit resets in ~12s.')).toBe(12);
    expect(retryAfterSeconds(null, 'no hint')).toBe(10);
  });
});

describe('prediction outputs', () => {
  it('collects URLs from every output shape', () => {
    expect(outputUrls('https://x/1.png')).toEqual(['https://x/1.png']);
    expect(outputUrls(['https://x/1.png', 'https://x/2.png'])).toEqual(['https://x/1.png', 'https://x/2.png']);
    expect(outputUrls({ audio: 'https://x/a.wav', text: 'hello' })).toEqual(['https://x/a.wav']);
    expect(outputUrls(null)).toEqual([]);
  });

  it('turns provider errors into text', () => {
    expect(errorText('boom')).toBe('boom');
    expect(errorText(null)).toBe('The model failed without a message');
    expect(errorText({ a: 1 })).toBe('{"a":1}');
  });
});
