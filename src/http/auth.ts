import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { authenticate, type AuthUser } from '../accounts/service';
import type { Db } from '../db/client';
import { AppError } from '../errors';

declare module 'express-serve-static-core' {
  interface Request {
    user?: AuthUser;
  }
}

/** `Authorization: Bearer <api_key>`; anything else is 401. */
export function requireApiKey(db: Db, pepper: string): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw AppError.unauthorized();
    const user = await authenticate(db, pepper, match[1]!);
    if (!user) throw AppError.unauthorized('The API key is not valid');
    req.user = user;
    next();
  };
}

export function currentUser(req: Request): AuthUser {
  if (!req.user) throw AppError.unauthorized();
  return req.user;
}
