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

/** NAT64 prefixes: the well-known 64:ff9b::/96 (RFC 6052) and the local-use 64:ff9b:1::/48 (RFC 8215). */
const NAT64_WELL_KNOWN = new BlockList();
NAT64_WELL_KNOWN.addSubnet('64:ff9b::', 96, 'ipv6');
const NAT64_LOCAL = new BlockList();
NAT64_LOCAL.addSubnet('64:ff9b:1::', 48, 'ipv6');

/**
 * The IPv4 address a NAT64 address (64:ff9b::/96) reaches: its last 32 bits. A gateway
 * translates 64:ff9b::a00:1 to 10.0.0.1, so it is checked as that.
 */
export function nat64Embedded(address: string): string | null {
  if (isIP(address) !== 6 || !NAT64_WELL_KNOWN.check(address, 'ipv6')) return null;
  const url = new URL(`http://[${address}]/`).hostname.slice(1, -1); // normalised: 64:ff9b::xxxx:yyyy
  const groups = url.split(':');
  const hi = parseInt(groups.at(-2) || '0', 16);
  const lo = parseInt(groups.at(-1) || '0', 16);
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/**
 * Whether an address is on the public internet. IPv4-mapped IPv6 addresses (::ffff:10.0.0.1) are
 * checked as the IPv4 address they carry (Node's BlockList does so), and so are NAT64 addresses
 * (64:ff9b::/96); the local-use NAT64 prefix is never public.
 */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const embedded = nat64Embedded(address);
  if (embedded) return isPublicAddress(embedded);
  if (family === 6 && NAT64_LOCAL.check(address, 'ipv6')) return false;
  return !NOT_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

/** 127.0.0.0/8 and ::1, also as IPv4-mapped or NAT64 addresses. */
export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const embedded = nat64Embedded(address);
  if (embedded) return isLoopback(embedded);
  return LOOPBACK.check(address, family === 6 ? 'ipv6' : 'ipv4');
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
