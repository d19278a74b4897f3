import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { KeyVerifier } from '../accounts/key-verifier';
import type { AuthUser, VerifiedKey } from '../accounts/service';
import { AppError } from '../errors';

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
    /** The API key the request was verified with (which key holds an event stream). */
    apiKey?: VerifiedKey;
  }
}

const bearer = (req: Request) => /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];

/**
 * Verifies the `Authorization: Bearer <api_key>` of a request that sends one and sets
 * `req.user`; never answers by itself, so the rate limits after it can tell verified keys
 * (limited per key) from everything else (limited per client address). The verifier
 * (src/accounts/key-verifier.ts) remembers verified keys for a while and forgets a revoked
 * one at once in every API process.
 */
export function identifyApiKey(keys: KeyVerifier): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const key = bearer(req);
    if (key === undefined) return next();
    const verified = await keys.verify(key);
    if (verified) {
      req.user = verified.user;
      req.apiKey = verified;
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

export function currentApiKey(req: Request): VerifiedKey {
  if (!req.apiKey) throw AppError.unauthorized();
  return req.apiKey;
}
