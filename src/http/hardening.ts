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
    exposedHeaders: ['X-Request-Id', 'Location', 'Retry-After', 'RateLimit', 'RateLimit-Policy'],
    credentials: false,
    maxAge: 600,
  });
}

const WINDOW_MS = 60_000;
/** Paths under /api/v1 that are never limited: the providers' webhooks (they retry on 429 and are signed). */
const isExcluded = (req: Request) => req.path.startsWith('/webhooks/') || req.path === '/webhooks';
const bearer = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

/**
 * Request rate limits for /api/v1 (mount there): per API key for requests that send one
 * (keyed by a hash prefix of the key, so the limit holds before and regardless of the database
 * lookup), per client IP for those that do not (sign-up, plans). Over the limit: 429
 * rate_limited with Retry-After and `details.retry_after_seconds`. Counters live in this
 * process's memory: with N API replicas a client gets up to N times the limit.
 */
export function rateLimits(config: Config): RequestHandler[] {
  const { perKeyPerMinute, unauthenticatedPerMinute } = config.rateLimit;
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

  const handlers: RequestHandler[] = [];
  if (perKeyPerMinute > 0) {
    handlers.push(
      limiter({
        limit: perKeyPerMinute,
        who: 'per API key',
        skip: (req) => bearer(req) === undefined,
        key: (req) => `key:${createHash('sha256').update(bearer(req)!).digest('hex').slice(0, 16)}`,
      }),
    );
  }
  if (unauthenticatedPerMinute > 0) {
    handlers.push(
      limiter({
        limit: unauthenticatedPerMinute,
        who: 'per client address without an API key',
        skip: (req) => bearer(req) !== undefined,
        key: (req) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`,
      }),
    );
  }
  return handlers;
}
