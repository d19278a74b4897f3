import { createHash } from 'node:crypto';
import cors from 'cors';
import type { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type RateLimitInfo } from 'express-rate-limit';
import helmet from 'helmet';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import { PostgresRateLimitStore } from './rate-limit-store';

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
 *   webhooks     on /api/v1/webhooks, per client address, only requests whose signature failed
 *                (RATE_LIMIT_WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE): made-up webhooks cost a
 *                lookup each until the address is refused before any lookup; signed ones never count
 *
 * Over a limit: 429 rate_limited with Retry-After and `details.retry_after_seconds`. The counters
 * live in Postgres (src/http/rate-limit-store.ts), so every API process counts against the same
 * limit. If the database cannot count, requests pass (they need it anyway, and say so if it is down).
 */
export function rateLimits(config: Config, db: Db): { beforeAuth: RequestHandler[]; afterAuth: RequestHandler[]; webhooks: RequestHandler[] } {
  const { perKeyPerMinute, unauthenticatedPerMinute, perAddressPerMinute, webhookFailuresPerAddressPerMinute } = config.rateLimit;
  const limiter = (opts: { name: string; limit: number; who: string; skip: (req: Request) => boolean; key: (req: Request) => string; onlyFailures?: boolean }) =>
    rateLimit({
      windowMs: WINDOW_MS,
      limit: opts.limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      store: new PostgresRateLimitStore(db, `${opts.name}:`),
      passOnStoreError: true,
      skipSuccessfulRequests: opts.onlyFailures ?? false,
      skip: opts.onlyFailures ? opts.skip : (req) => isExcluded(req) || opts.skip(req),
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
    beforeAuth.push(limiter({ name: 'addr', limit: perAddressPerMinute, who: 'per client address', skip: () => false, key: (req) => clientAddress(req) }));
  }
  const afterAuth: RequestHandler[] = [];
  if (perKeyPerMinute > 0) {
    afterAuth.push(
      limiter({
        name: 'key',
        limit: perKeyPerMinute,
        who: 'per API key',
        skip: (req) => req.user === undefined,
        key: (req) => createHash('sha256').update(bearer(req)!).digest('hex').slice(0, 16),
      }),
    );
  }
  if (unauthenticatedPerMinute > 0) {
    afterAuth.push(
      limiter({
        name: 'ip',
        limit: unauthenticatedPerMinute,
        who: 'per client address without an API key',
        skip: (req) => req.user !== undefined,
        key: (req) => clientAddress(req),
      }),
    );
  }
  const webhooks: RequestHandler[] = [];
  if (webhookFailuresPerAddressPerMinute > 0) {
    webhooks.push(
      limiter({
        name: 'webhook-failures',
        limit: webhookFailuresPerAddressPerMinute,
        who: 'per client address for webhooks that fail verification',
        skip: () => false,
        key: (req) => clientAddress(req),
        // Counted, then taken back when the answer is a success: only refused webhooks add up.
        onlyFailures: true,
      }),
    );
  }
  return { beforeAuth, afterAuth, webhooks };
}
