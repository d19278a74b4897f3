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

/**
 * `Authorization: Bearer <api_key>`; anything else is 401. A valid key is remembered for
 * 30 s in this process (keyed by the key itself, never stored), so hot read paths do not
 * pay a database round trip per request; a revoked key stops working within that time.
 */
export function requireApiKey(db: Db, pepper: string): RequestHandler {
  const known = new Map<string, { user: AuthUser; until: number }>();
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw AppError.unauthorized();
    const key = match[1]!;
    const cached = known.get(key);
    if (cached && cached.until > Date.now()) {
      req.user = cached.user;
      return next();
    }
    const user = await authenticate(db, pepper, key);
    if (!user) throw AppError.unauthorized('The API key is not valid');
    if (known.size >= CACHE_MAX) known.delete(known.keys().next().value!);
    known.set(key, { user, until: Date.now() + CACHE_TTL_MS });
    req.user = user;
    next();
  };
}

export function currentUser(req: Request): AuthUser {
  if (!req.user) throw AppError.unauthorized();
  return req.user;
}
