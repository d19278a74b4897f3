import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authenticate, type AuthUser } from '../accounts/service';
import type { Db } from '../db/client';
import { AppError } from '../errors';

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
  }
}

const CACHE_TTL_MS = 30_000;
const CACHE_MAX = 10_000;
const bearer = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

/**
 * Verifies the `Authorization: Bearer <api_key>` of a request that sends one and sets
 * `req.user`; never answers by itself, so the rate limits after it can tell verified keys
 * (limited per key) from everything else (limited per client address). A valid key is
 * remembered for 30 s in this process (keyed by the key itself, never stored), so hot read
 * paths do not pay a database round trip per request; a revoked key stops working within that time.
 */
export function identifyApiKey(db: Db, pepper: string): RequestHandler {
  const known = new Map<string, { user: AuthUser; until: number }>();
  return async (req: Request, _res: Response, next: NextFunction) => {
    const key = bearer(req);
    if (key === undefined) return next();
    const cached = known.get(key);
    if (cached && cached.until > Date.now()) {
      req.user = cached.user;
      return next();
    }
    const user = await authenticate(db, pepper, key);
    if (user) {
      if (known.size >= CACHE_MAX) known.delete(known.keys().next().value!);
      known.set(key, { user, until: Date.now() + CACHE_TTL_MS });
      req.user = user;
    }
    next();
  };
}

/** 401 unless identifyApiKey (mounted before) verified the request's API key. */
export function requireApiKey(): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (req.user) return next();
    throw bearer(req) === undefined ? AppError.unauthorized() : AppError.unauthorized('The API key is not valid');
  };
}

export function currentUser(req: Request): AuthUser {
  if (!req.user) throw AppError.unauthorized();
  return req.user;
}
