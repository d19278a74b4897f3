import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { signWebhookBody } from '../provider/webhook-signature';
import { isLoopback, isPublicAddress } from '../provider/output-fetch';

/**
 * Sends one signed webhook POST, the one place the worker posts to a URL a user gave. The address
 * guard is on everywhere: only https and only public addresses (every address DNS gives is
 * checked, IPv4-mapped and NAT64 forms as the IPv4 address they carry, and the connection goes
 * to the checked address, so a DNS answer that changes between check and connect cannot redirect
 * it). Only with WEBHOOK_ALLOW_LOOPBACK=true (local development and tests; refused in production)
 * may a webhook go to a loopback address, over plain http too. Redirects are not followed: a 3xx is the receiver's answer,
 * reported with its Location (a redirect would take the signed body somewhere nobody checked).
 * The first EXCERPT_BYTES of the answer's body are kept for the deliveries list; the rest is
 * read and dropped, within the same timeout. Signed the Standard Webhooks
 * way, as Replicate signs its own: `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`,
 * one such signature per secret while a rotated secret is in its grace period.
 */

export interface WebhookPost {
  url: string;
  /** Stable per event: a receiver deduplicates retries by it. */
  id: string;
  body: string;
  /** The account's signing secrets: the current one, and during a rotation's grace the old one (each gives a `v1,` signature). */
  secrets: string[];
  /** WEBHOOK_ALLOW_LOOPBACK: loopback addresses (and plain http to them) are allowed. */
  allowLoopback: boolean;
  /** DNS, every address of a name (tests pass their own answers). */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
  /** The receiver must accept the TCP connection within this. */
  connectTimeoutMs: number;
  /** The whole attempt (connect, send, answer) gives up after this. */
  timeoutMs: number;
}

/** The URL is not one we post to; retrying cannot change that. */
export class WebhookUrlRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookUrlRefused';
  }
}

/** How much of a receiver's answer is kept (as text) for the deliveries list and the test event. */
export const EXCERPT_BYTES = 200;

export interface WebhookAnswer {
  status: number;
  /** The first EXCERPT_BYTES of the body, as UTF-8 text (empty for an empty body). */
  bodyExcerpt: string;
  /** The Location header of a 3xx answer (not followed), or null. */
  redirectLocation: string | null;
}

export async function postWebhook(p: WebhookPost): Promise<WebhookAnswer> {
  const url = new URL(p.url);
  const target = await checkWebhookTarget(url, { allowLoopback: p.allowLoopback, resolve: p.resolve });
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'imagegen-webhooks/1',
    'webhook-id': p.id,
    'webhook-timestamp': String(timestamp),
    // Space-separated, one per secret, as Standard Webhooks allows: a receiver with either secret verifies.
    'webhook-signature': p.secrets.map((secret) => `v1,${signWebhookBody(secret, p.id, timestamp, p.body)}`).join(' '),
  };
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) (callback as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'POST', lookup: pinned, agent: false, headers });
    const fail = (message: string) => req.destroy(new Error(message));
    // A receiver that accepts the connection and never answers gets timeoutMs in all; one that
    // does not accept it gets connectTimeoutMs: neither holds a delivery slot for long.
    const total = setTimeout(() => fail(`The receiver did not answer within ${p.timeoutMs} ms`), p.timeoutMs);
    let connect: NodeJS.Timeout | undefined;
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      connect = setTimeout(() => fail(`The receiver did not accept the connection within ${p.connectTimeoutMs} ms`), p.connectTimeoutMs);
      socket.once('connect', () => clearTimeout(connect));
    });
    const done = () => {
      clearTimeout(total);
      clearTimeout(connect);
    };
    req.once('error', (err) => {
      done();
      reject(err);
    });
    req.once('response', (res) => {
      const status = res.statusCode ?? 0;
      const location = status >= 300 && status < 400 ? (res.headers.location ?? null) : null;
      const head: Buffer[] = [];
      let kept = 0;
      res.on('data', (chunk: Buffer) => {
        if (kept >= EXCERPT_BYTES) return;
        const part = chunk.subarray(0, EXCERPT_BYTES - kept);
        head.push(part);
        kept += part.length;
      });
      res.once('end', () => {
        done();
        resolve({ status, bodyExcerpt: excerpt(Buffer.concat(head)), redirectLocation: location === null ? null : location.slice(0, 2000) });
      });
      res.once('error', (err) => {
        done();
        reject(err);
      });
    });
    req.end(p.body);
  });
}

const systemResolve = (host: string) => dnsLookup(host, { all: true, verbatim: true });

/**
 * Scheme, host and every address of the host; returns the one address to connect to. Refused
 * (WebhookUrlRefused): a scheme other than https (http only to loopback with allowLoopback), and
 * any address that is not public (loopback only with allowLoopback), whichever of the host's
 * addresses it is.
 */
export async function checkWebhookTarget(
  url: URL,
  opts: { allowLoopback: boolean; resolve?: WebhookPost['resolve'] },
): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && opts.allowLoopback)) {
    throw new WebhookUrlRefused(`Webhooks must be https (got ${url.protocol} for ${host})`);
  }
  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await (opts.resolve ?? systemResolve)(host).catch(() => []);
  if (addresses.length === 0) throw new Error(`The webhook host ${host} did not resolve`);
  for (const a of addresses) {
    const loopback = isLoopback(a.address);
    if (!isPublicAddress(a.address) && !(loopback && opts.allowLoopback)) {
      throw new WebhookUrlRefused(`The webhook host ${host} resolves to a private, loopback or link-local address (${a.address})`);
    }
    if (url.protocol === 'http:' && !loopback) throw new WebhookUrlRefused(`Plain http webhooks go only to loopback, and only in local development (${host} is not)`);
  }
  return addresses[0]!;
}

/** Bytes as text for people: invalid UTF-8 (or a character cut at the end) becomes U+FFFD, control characters but newline and tab go. */
function excerpt(bytes: Buffer): string {
  return bytes.toString('utf8').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** What a delivery or test reports when the receiver answered a redirect. */
export function redirectMessage(status: number, location: string | null): string {
  return `The receiver answered ${status}, a redirect${location ? ` to ${location}` : ' without a Location'}; redirects are not followed, so the event was not delivered: give the final URL`;
}
