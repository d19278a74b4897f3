import { signWebhookBody, verifyWebhook } from '../../src/provider/webhook-signature';

const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
const body = Buffer.from(JSON.stringify({ id: 'p1', status: 'succeeded' }));
const now = 1_800_000_000;

function headers(overrides: Partial<{ id: string; timestamp: string; signature: string }> = {}) {
  const id = overrides.id ?? 'msg_1';
  const timestamp = overrides.timestamp ?? String(now);
  return { id, timestamp, signature: overrides.signature ?? `v1,${signWebhookBody(secret, id, timestamp, body)}` };
}

describe('verifyWebhook', () => {
  it('when the signature matches and the timestamp is fresh, then it accepts', () => {
    expect(verifyWebhook({ secret, headers: headers(), body, toleranceSeconds: 300, nowSeconds: now })).toEqual({ ok: true, id: 'msg_1', timestamp: now });
  });

  it('when one of several signatures matches (secret rotation), then it accepts', () => {
    const good = headers().signature;
    const verdict = verifyWebhook({ secret, headers: headers({ signature: `v1,AAAA ${good}` }), body, toleranceSeconds: 300, nowSeconds: now });
    expect(verdict.ok).toBe(true);
  });

  it('when the body was changed, then it rejects', () => {
    const verdict = verifyWebhook({ secret, headers: headers(), body: Buffer.from('{"id":"p1","status":"failed"}'), toleranceSeconds: 300, nowSeconds: now });
    expect(verdict).toEqual({ ok: false, reason: 'signature does not match' });
  });

  it('when signed with another secret, then it rejects', () => {
    const other = 'whsec_' + Buffer.from('another-secret-another-secret-xx').toString('base64');
    const sig = `v1,${signWebhookBody(other, 'msg_1', now, body)}`;
    expect(verifyWebhook({ secret, headers: headers({ signature: sig }), body, toleranceSeconds: 300, nowSeconds: now }).ok).toBe(false);
  });

  it('when the timestamp is outside the window (a replay), then it rejects', () => {
    const old = String(now - 301);
    const sig = `v1,${signWebhookBody(secret, 'msg_1', old, body)}`;
    expect(verifyWebhook({ secret, headers: headers({ timestamp: old, signature: sig }), body, toleranceSeconds: 300, nowSeconds: now })).toEqual({
      ok: false,
      reason: 'webhook-timestamp is outside the allowed window',
    });
  });

  it('when headers are missing or malformed, then it rejects with the reason', () => {
    expect(verifyWebhook({ secret, headers: { id: 'msg_1' }, body, toleranceSeconds: 300, nowSeconds: now }).ok).toBe(false);
    expect(verifyWebhook({ secret, headers: headers({ timestamp: 'yesterday' }), body, toleranceSeconds: 300, nowSeconds: now }).ok).toBe(false);
    expect(verifyWebhook({ secret, headers: headers({ signature: 'v2,abc' }), body, toleranceSeconds: 300, nowSeconds: now }).ok).toBe(false);
    expect(verifyWebhook({ secret, headers: headers({ signature: 'v1,' }), body, toleranceSeconds: 300, nowSeconds: now }).ok).toBe(false);
  });
});
