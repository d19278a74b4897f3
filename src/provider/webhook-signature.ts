import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Replicate signs webhooks the Standard Webhooks way: `webhook-signature` holds one or
 * more space-separated `v1,<base64 HMAC-SHA256(id.timestamp.body)>`, keyed with the
 * base64 part of the `whsec_` secret. Unlike the SDK's helper, this also enforces a
 * timestamp window (replay protection) and compares in constant time.
 */
export type WebhookVerdict =
  | { ok: true; id: string; timestamp: number }
  | { ok: false; reason: string };

export function signWebhookBody(secret: string, id: string, timestamp: number | string, body: string | Buffer): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64');
}

export function verifyWebhook(opts: {
  secret: string;
  headers: { id?: string; timestamp?: string; signature?: string };
  body: Buffer;
  toleranceSeconds: number;
  nowSeconds?: number;
}): WebhookVerdict {
  const { id, timestamp, signature } = opts.headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing webhook-id, webhook-timestamp or webhook-signature header' };
  const ts = Number(timestamp);
  if (!Number.isInteger(ts)) return { ok: false, reason: 'webhook-timestamp is not a unix time' };
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - ts) > opts.toleranceSeconds) return { ok: false, reason: 'webhook-timestamp is outside the allowed window' };

  const expected = Buffer.from(signWebhookBody(opts.secret, id, ts, opts.body), 'base64');
  const matches = signature.split(' ').some((part) => {
    const [version, sig] = part.split(',');
    if (version !== 'v1' || !sig) return false;
    const given = Buffer.from(sig, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  return matches ? { ok: true, id, timestamp: ts } : { ok: false, reason: 'signature does not match' };
}
