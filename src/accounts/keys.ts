import type { Db } from '../db/client';
import type { Tx } from '../db/transaction';
import type { ApiKey } from '../generated/prisma/client';
import { AppError, ErrorCode } from '../errors';
import { newApiKeyRow } from './api-keys';
import { KEY_CHANGES_CHANNEL } from './key-changes';

/**
 * An account's API keys: create, list, revoke, rotate. Every change that ends a key notifies
 * KEY_CHANGES_CHANNEL in its own transaction, so each API process forgets the key the moment
 * the change commits (src/accounts/key-verifier.ts).
 *
 * Rule: an account always keeps one active key without an end. Revoking the last one is
 * refused (409 last_api_key): create or rotate a key first. A rotation's old key does not
 * count, since it stops working when its grace period ends.
 */

export interface CreatedKey {
  key: Pick<ApiKey, 'id' | 'name' | 'prefix' | 'createdAt'> & Partial<Pick<ApiKey, 'monthlyCreditBudget'>>;
  /** Shown to the caller once; only its hash is stored. */
  apiKey: string;
}

/**
 * Keys that work (neither revoked nor expired) an account may hold: a leaked key that creates keys
 * cannot fill the table. Beyond it, creating one is 409 too_many_api_keys; a rotation replaces a
 * key, so it is never refused (the old one ends with its grace period).
 */
export const MAX_ACTIVE_API_KEYS = 20;

export async function createApiKey(db: Db, pepper: string, userId: string, name: string, monthlyCreditBudget: number | null = null): Promise<CreatedKey> {
  const { apiKey, row } = newApiKeyRow(pepper, name);
  const key = await db.$transaction(async (tx) => {
    // One creation at a time per account, so that parallel requests cannot pass the count together.
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`api-keys:${userId}`}, 0))`;
    const active = await tx.apiKey.count({ where: { userId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] } });
    if (active >= MAX_ACTIVE_API_KEYS) {
      throw AppError.conflict(ErrorCode.tooManyApiKeys, `This account already has ${active} working API keys (at most ${MAX_ACTIVE_API_KEYS}): revoke one first`, {
        active_keys: active,
        max_active_keys: MAX_ACTIVE_API_KEYS,
      });
    }
    return tx.apiKey.create({
      data: { ...row, userId, monthlyCreditBudget },
      select: { id: true, name: true, prefix: true, createdAt: true, monthlyCreditBudget: true },
    });
  });
  return { key, apiKey };
}

const LISTED = { id: true, name: true, prefix: true, createdAt: true, lastUsedAt: true, expiresAt: true, revokedAt: true, monthlyCreditBudget: true } as const;

/**
 * Every key of the account, revoked and expired ones included, oldest first, each with what its
 * jobs accepted this UTC month hold or cost (by the database's clock, as the accept statement
 * counts it). Never the key or its hash.
 */
export async function listApiKeys(db: Db, userId: string) {
  const [keys, spent] = await Promise.all([
    db.apiKey.findMany({ where: { userId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: LISTED }),
    monthSpend(db, { userId }),
  ]);
  return keys.map((k) => ({ ...k, creditsSpentThisMonth: spent.get(k.id) ?? 0 }));
}
export type ListedKey = Awaited<ReturnType<typeof listApiKeys>>[number];

/** Each key's credits held or spent by its jobs accepted in the current UTC month (src/credits/ledger.ts counts them). */
async function monthSpend(db: Db, where: { userId: string; keyId?: string }): Promise<Map<string, number>> {
  const rows = await db.$queryRaw<{ id: string; spent: number }[]>`
    SELECT id, month_spent_credits AS spent FROM api_keys
     WHERE user_id = ${where.userId}::uuid AND (${where.keyId ?? null}::uuid IS NULL OR id = ${where.keyId ?? null}::uuid)
       AND spend_month = (date_trunc('month', now()::timestamptz(3) AT TIME ZONE 'UTC'))::date`;
  return new Map(rows.map((r) => [r.id, r.spent]));
}

/**
 * Sets (or with null, removes) one of the caller's keys' monthly credit budget; 404 for anyone
 * else's. It applies to the next job the key sends: the accept statement reads it.
 */
export async function setKeyBudget(db: Db, userId: string, keyId: string, monthlyCreditBudget: number | null): Promise<ListedKey> {
  const { count } = await db.apiKey.updateMany({ where: { id: keyId, userId }, data: { monthlyCreditBudget } });
  if (count === 0) throw AppError.notFound('API key');
  const key = await db.apiKey.findUniqueOrThrow({ where: { id: keyId }, select: LISTED });
  const spent = await monthSpend(db, { userId, keyId });
  return { ...key, creditsSpentThisMonth: spent.get(keyId) ?? 0 };
}

/** Revokes one of the caller's keys (404 for anyone else's); revoking a revoked key changes nothing. */
export async function revokeApiKey(db: Db, userId: string, keyId: string, now = new Date()): Promise<void> {
  await db.$transaction(async (tx) => {
    const key = await lockOwnKey(tx, userId, keyId);
    if (!key.revokedAt) {
      const lasting = await tx.apiKey.count({ where: { userId, id: { not: keyId }, revokedAt: null, expiresAt: null } });
      if (key.expiresAt === null && lasting === 0) {
        throw AppError.conflict(ErrorCode.lastApiKey, 'This is your last API key that does not expire; create a new one (POST /api/v1/keys) or rotate this one before revoking it');
      }
      await tx.apiKey.update({ where: { id: keyId }, data: { revokedAt: now } });
    }
    // Also for a key revoked before: the caller waits for this notification (KeyVerifier.changed).
    await notifyKeyChange(tx, keyId);
  });
}

/**
 * Replaces one of the caller's active keys: a new key with the same name, while the old one
 * keeps working for `graceSeconds` (an earlier end it already had stays). 409 api_key_inactive
 * for a revoked or expired key.
 */
export async function rotateApiKey(
  db: Db,
  req: { pepper: string; userId: string; keyId: string; graceSeconds: number },
  now = new Date(),
): Promise<CreatedKey & { oldExpiresAt: Date }> {
  return db.$transaction(async (tx) => {
    const old = await lockOwnKey(tx, req.userId, req.keyId);
    if (old.revokedAt || (old.expiresAt && old.expiresAt <= now)) {
      throw AppError.conflict(ErrorCode.apiKeyInactive, `This API key is ${old.revokedAt ? 'revoked' : 'expired'}; only an active key can be rotated`);
    }
    const graceEnd = new Date(now.getTime() + req.graceSeconds * 1000);
    const oldExpiresAt = old.expiresAt && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
    await tx.apiKey.update({ where: { id: old.id }, data: { expiresAt: oldExpiresAt } });
    const { apiKey, row } = newApiKeyRow(req.pepper, old.name);
    // The successor keeps the old key's monthly budget (its month's spend starts at 0).
    const key = await tx.apiKey.create({
      data: { ...row, userId: req.userId, monthlyCreditBudget: old.monthlyCreditBudget },
      select: { id: true, name: true, prefix: true, createdAt: true, monthlyCreditBudget: true },
    });
    await notifyKeyChange(tx, old.id);
    return { key, apiKey, oldExpiresAt };
  });
}

/**
 * The caller's key, or 404. Locks the account's row first, so changes to one account's keys
 * run one at a time (two concurrent revocations cannot both see the other key as the one left).
 */
async function lockOwnKey(tx: Tx, userId: string, keyId: string) {
  await tx.$executeRaw`SELECT 1 FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
  const key = await tx.apiKey.findFirst({ where: { id: keyId, userId }, select: { id: true, name: true, revokedAt: true, expiresAt: true, monthlyCreditBudget: true } });
  if (!key) throw AppError.notFound('API key');
  return key;
}

/** Every listening API process hears this when the transaction commits (and never if it rolls back). */
async function notifyKeyChange(tx: Tx, keyId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_notify(${KEY_CHANGES_CHANNEL}, ${keyId})`;
}
