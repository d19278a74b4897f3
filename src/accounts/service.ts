import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import { hashApiKey, looksLikeApiKey, newApiKeyRow } from './api-keys';

export interface AuthUser {
  id: string;
  email: string;
}

/** A key that authenticated: whose it is, and when it stops working (null: until revoked). */
export interface VerifiedKey {
  keyId: string;
  user: AuthUser;
  expiresAt: Date | null;
}

/** Creates the account and its first API key, named "default" (listed by GET /api/v1/keys like any other). */
export async function createUser(db: Db, pepper: string, email: string): Promise<AuthUser & { apiKey: string }> {
  const { apiKey, row } = newApiKeyRow(pepper, 'default');
  const id = randomUUID();
  try {
    await db.user.create({ data: { id, email, apiKeys: { create: row } } });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') {
      throw AppError.conflict(ErrorCode.emailTaken, `An account for ${email} already exists`);
    }
    throw err;
  }
  return { id, email, apiKey };
}

/** The key's owner, if the key exists, is not revoked and has not expired; else null. */
export async function authenticate(db: Db, pepper: string, key: string, now = new Date()): Promise<VerifiedKey | null> {
  if (!looksLikeApiKey(key)) return null;
  const row = await db.apiKey.findUnique({
    where: { keyHash: hashApiKey(key, pepper) },
    select: { id: true, revokedAt: true, expiresAt: true, user: { select: { id: true, email: true } } },
  });
  if (!row || row.revokedAt || (row.expiresAt && row.expiresAt <= now)) return null;
  return { keyId: row.id, user: row.user, expiresAt: row.expiresAt };
}
