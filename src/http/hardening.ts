import { createHash } from 'node:crypto';
import cors from 'cors';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import helmet from 'helmet';
import type { Config } from '../config';
import { AppError, ErrorCode } from '../errors';

/**
 * HTTP hardening for the public API, mounted by createApp before any router.
 *
 * Security headers (helmet) tuned for a JSON API that may also serve its own docs page: the
 * default CSP (same-origin scripts and styles) without upgrade-insecure-requests (the local API
 * is plain http), no framing at all, no referrer.
 */
export function securityHeaders(config: Config): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: true, directives: { 'frame-ancestors': ["'none'"], 'upgrade-insecure-requests': null } },
    // Browsers on the configured origins may read our responses (downloads included).
    crossOriginResourcePolicy: { policy: config.http.corsOrigins.length > 0 ? 'cross-origin' : 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}

/** CORS for the configured browser origins only (CORS_ORIGINS); none configured = no CORS headers. */
export function corsPolicy(config: Config): RequestHandler | undefined {
  if (config.http.corsOrigins.length === 0) return undefined;
  return cors({
    origin: config.http.corsOrigins,
    methods: ['GET', 'HEAD', 'POST', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'Location', 'Retry-After', 'RateLimit', 'RateLimit-Policy', 'Server-Timing'],
    credentials: false,
    maxAge: 600,
  });
}

const WINDOW_MS = 60_000;
/** Paths under /api/v1 that are never limited: the providers' webhooks (they retry on 429 and are signed). */
const isExcluded = (req: Request) => req.path.startsWith('/webhooks/') || req.path === '/webhooks';
const bearer = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
const clientAddress = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');

/**
 * Request rate limits for /api/v1, in two places (see createApp):
 *
 *   beforeAuth   per client address, every request whatever headers it sends
 *                (RATE_LIMIT_PER_ADDRESS_PER_MINUTE): a ceiling nothing skips, checked before
 *                any database lookup
 *   afterAuth    after identifyApiKey: per API key for requests whose key was verified
 *                (RATE_LIMIT_PER_MINUTE), per client address for all others, a missing,
 *                malformed, unknown or revoked key alike (RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE),
 *                so a made-up `Bearer` header counts as no key at all
 *
 * Over a limit: 429 rate_limited with Retry-After and `details.retry_after_seconds`. Counters live
 * in this process's memory: with N API replicas a client gets up to N times the limit.
 */
export function rateLimits(config: Config): { beforeAuth: RequestHandler[]; afterAuth: RequestHandler[] } {
  const { perKeyPerMinute, unauthenticatedPerMinute, perAddressPerMinute } = config.rateLimit;
  const limiter = (opts: { limit: number; who: string; skip: (req: Request) => boolean; key: (req: Request) => string }) =>
    rateLimit({
      windowMs: WINDOW_MS,
      limit: opts.limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      skip: (req) => isExcluded(req) || opts.skip(req),
      keyGenerator: opts.key,
      // We log and answer ourselves; a client-sent X-Forwarded-For without TRUST_PROXY is simply ignored.
      validate: { xForwardedForHeader: false },
      handler: (req, _res, next) => {
        const info = (req as Request & { rateLimit?: RateLimitInfo }).rateLimit;
        const seconds = Math.max(1, Math.ceil(((info?.resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
        next(
          new AppError(
            429,
            ErrorCode.rateLimited,
            `Too many requests: at most ${opts.limit} a minute ${opts.who}. Retry in ${seconds} s.`,
            { retry_after_seconds: seconds },
            { 'Retry-After': String(seconds) },
          ),
        );
      },
    });

  const beforeAuth: RequestHandler[] = [];
  if (perAddressPerMinute > 0) {
    beforeAuth.push(limiter({ limit: perAddressPerMinute, who: 'per client address', skip: () => false, key: (req) => `addr:${clientAddress(req)}` }));
  }
  const afterAuth: RequestHandler[] = [];
  if (perKeyPerMinute > 0) {
    afterAuth.push(
      limiter({
        limit: perKeyPerMinute,
        who: 'per API key',
        skip: (req) => req.user === undefined,
        key: (req) => `key:${createHash('sha256').update(bearer(req)!).digest('hex').slice(0, 16)}`,
      }),
    );
  }
  if (unauthenticatedPerMinute > 0) {
    afterAuth.push(
      limiter({
        limit: unauthenticatedPerMinute,
        who: 'per client address without an API key',
        skip: (req) => req.user !== undefined,
        key: (req) => `ip:${clientAddress(req)}`,
      }),
    );
  }
  return { beforeAuth, afterAuth };
}
