import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import { generateApiKey, hashApiKey, keyPrefix, looksLikeApiKey } from './api-keys';

export interface AuthUser {
  id: string;
  email: string;
}

export async function createUser(db: Db, pepper: string, email: string): Promise<AuthUser & { apiKey: string }> {
  const apiKey = generateApiKey();
  const id = randomUUID();
  try {
    await db.user.create({
      data: {
        id,
        email,
        apiKeys: { create: { id: randomUUID(), keyHash: hashApiKey(apiKey, pepper), prefix: keyPrefix(apiKey) } },
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'P2002') {
      throw AppError.conflict(ErrorCode.emailTaken, `An account for ${email} already exists`);
    }
    throw err;
  }
  return { id, email, apiKey };
}

export async function authenticate(db: Db, pepper: string, key: string): Promise<AuthUser | null> {
  if (!looksLikeApiKey(key)) return null;
  const row = await db.apiKey.findUnique({
    where: { keyHash: hashApiKey(key, pepper) },
    select: { revokedAt: true, user: { select: { id: true, email: true } } },
  });
  if (!row || row.revokedAt) return null;
  return row.user;
}
