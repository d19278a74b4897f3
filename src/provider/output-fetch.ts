import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import type { Config } from '../config';

/**
 * Downloads of provider output files, the one place the worker fetches a URL it was handed.
 * A prediction's output URLs come from the provider's answer (or a webhook), so they are
 * treated as untrusted: only https to the provider's delivery hosts, never to a private,
 * loopback or link-local address in production (every address DNS gives is checked, and the
 * connection goes to the checked address, so a second DNS answer cannot swap it), redirects
 * followed by hand and checked like the first URL, and a connect and an idle-read timeout.
 */

export interface OutputFetchPolicy {
  /** Host names (lower case); `*.example.com` matches every subdomain of example.com. */
  allowedHosts: string[];
  /** Production: https only and public addresses only. Otherwise http is allowed to loopback. */
  production: boolean;
  connectTimeoutMs: number;
  /** A response that sends nothing for this long is aborted. */
  idleTimeoutMs: number;
  maxRedirects: number;
  /** DNS, every address of a name (tests pass their own answers). */
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: number }>>;
}

export interface OutputResponse {
  status: number;
  /** The URL that answered, after redirects. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Readable;
}

export type OutputFetcher = (url: string, opts?: { signal?: AbortSignal }) => Promise<OutputResponse>;

/** The URL (or a redirect) is not one we fetch; retrying cannot change that. */
export class OutputUrlRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputUrlRefused';
  }
}

export function outputFetchPolicy(config: Config): OutputFetchPolicy {
  return {
    allowedHosts: config.replicate.outputHosts,
    production: config.env === 'production',
    connectTimeoutMs: 10_000,
    idleTimeoutMs: 30_000,
    maxRedirects: 3,
  };
}

export function createOutputFetcher(policy: OutputFetchPolicy): OutputFetcher {
  const resolve = policy.resolve ?? ((host: string) => dnsLookup(host, { all: true, verbatim: true }));
  return async (rawUrl, opts = {}) => {
    let url = parseUrl(rawUrl);
    for (let hop = 0; ; hop++) {
      const address = await checkTarget(policy, resolve, url);
      const res = await request(url, address, policy, opts.signal);
      const location = res.headers.location;
      if (res.statusCode === undefined || res.statusCode < 300 || res.statusCode >= 400 || !location) {
        return { status: res.statusCode ?? 0, url: url.href, headers: res.headers, body: res };
      }
      res.resume();
      if (hop >= policy.maxRedirects) throw new OutputUrlRefused(`The output URL redirects more than ${policy.maxRedirects} times`);
      url = parseUrl(location, url);
    }
  };
}

function parseUrl(raw: string, base?: URL): URL {
  try {
    return new URL(raw, base);
  } catch {
    throw new OutputUrlRefused('The output URL is not a valid URL');
  }
}

/** Scheme, host and every address of the host; returns the address to connect to. */
async function checkTarget(
  policy: OutputFetchPolicy,
  resolve: NonNullable<OutputFetchPolicy['resolve']>,
  url: URL,
): Promise<{ address: string; family: number }> {
  const host = hostnameOf(url);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.production)) {
    throw new OutputUrlRefused(`Output URLs must be https (got ${url.protocol.replace(':', '')} for ${host})`);
  }
  if (url.username || url.password) throw new OutputUrlRefused(`The output URL for ${host} carries credentials`);
  if (!isAllowedHost(host, policy.allowedHosts)) throw new OutputUrlRefused(`The output host ${host} is not one of the provider's delivery hosts`);

  const family = isIP(host);
  const addresses = family ? [{ address: host, family }] : await resolve(host).catch(() => []);
  if (addresses.length === 0) throw new Error(`The output host ${host} did not resolve`);
  for (const a of addresses) {
    if (policy.production && !isPublicAddress(a.address)) {
      throw new OutputUrlRefused(`The output host ${host} resolves to a private, loopback or link-local address`);
    }
    if (url.protocol === 'http:' && !isLoopback(a.address)) {
      throw new OutputUrlRefused(`Plain http is allowed only to loopback outside production (${host} is not)`);
    }
  }
  return addresses[0]!;
}

const hostnameOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();

export function isAllowedHost(host: string, allowed: string[]): boolean {
  return allowed.some((pattern) => (pattern.startsWith('*.') ? host.endsWith(pattern.slice(1)) : host === pattern));
}

/** Special-purpose ranges (RFC 6890 and friends): nothing a public CDN answers with. */
const NOT_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15],
  ['198.51.100.0', 24], ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001::', 23], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) NOT_PUBLIC.addSubnet(net, prefix, 'ipv6');

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry. */
export function isPublicAddress(address: string): boolean {
  return !NOT_PUBLIC.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

function isLoopback(address: string): boolean {
  return LOOPBACK.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
}

/** One GET to `url`, connecting to the checked `target` address whatever DNS says now. */
function request(url: URL, target: { address: string; family: number }, policy: OutputFetchPolicy, signal?: AbortSignal): Promise<IncomingMessage> {
  const pinned: LookupFunction = (_host, options, callback) => {
    if (options.all) (callback as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'GET', lookup: pinned, agent: false, signal, headers: { accept: '*/*' } });
    const connectTimer = setTimeout(
      () => req.destroy(new Error(`Connecting to ${url.host} took longer than ${policy.connectTimeoutMs} ms`)),
      policy.connectTimeoutMs,
    );
    req.once('socket', (socket) => socket.once('connect', () => clearTimeout(connectTimer)));
    let response: IncomingMessage | undefined;
    req.setTimeout(policy.idleTimeoutMs, () => {
      // The body reader sees this error, not a bare "aborted".
      const err = new Error(`${url.host} sent nothing for ${policy.idleTimeoutMs} ms`);
      response?.destroy(err);
      req.destroy(err);
    });
    req.once('close', () => clearTimeout(connectTimer));
    req.once('error', reject);
    req.once('response', (res) => resolve((response = res)));
    req.end();
  });
}
