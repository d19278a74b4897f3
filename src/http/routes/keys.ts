import { Router, type Request } from 'express';
import { z } from 'zod';
import type { KeyVerifier } from '../../accounts/key-verifier';
import { createApiKey, listApiKeys, revokeApiKey, rotateApiKey, setKeyBudget, type CreatedKey, type ListedKey } from '../../accounts/keys';
import { AppError, ErrorCode } from '../../errors';
import { iso } from '../../shared/dates';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

/** The caller's API keys: create, list, revoke, rotate (src/accounts/keys.ts). */

const monthlyCreditBudget = z
  .number().int().min(0).max(1_000_000_000)
  .nullable()
  .meta({ description: 'Credits the jobs sent with this key may cost per UTC month (what they hold while running, then what they cost); past it a job is 402 `key_budget_exceeded`. Null: no cap', example: 500 });

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1, 'must not be empty').max(64, 'must be at most 64 characters').meta({ example: 'ci-pipeline' }),
  monthly_credit_budget: monthlyCreditBudget.optional(),
});
export const updateKeyBody = z.strictObject({ monthly_credit_budget: monthlyCreditBudget });
export const keyIdParam = z.object({ key_id: z.uuid({ message: 'must be an API key id (UUID)' }) });

const timestamp = z.iso.datetime();
const keyFields = {
  id: z.uuid(),
  name: z.string(),
  prefix: z.string().meta({ description: 'The first characters of the key, to tell keys apart', example: 'igk_AbC12x' }),
  created_at: timestamp,
};

export const CreatedApiKey = z
  .object({
    ...keyFields,
    monthly_credit_budget: monthlyCreditBudget,
    api_key: z.string().meta({ description: 'Shown once: send it as `Authorization: Bearer <api_key>`' }),
  })
  .meta({ id: 'CreatedApiKey' });

export const RotatedApiKey = CreatedApiKey.extend({
  replaces: z.object({
    id: z.uuid(),
    expires_at: timestamp.meta({ description: 'When the old key stops working (API_KEY_ROTATION_GRACE_SECONDS after the rotation)' }),
  }),
}).meta({ id: 'RotatedApiKey' });

export const ApiKey = z
  .object({
    ...keyFields,
    status: z.enum(['active', 'expired', 'revoked']),
    last_used_at: timestamp.nullable().meta({ description: 'Updated at most once a minute' }),
    expires_at: timestamp.nullable().meta({ description: 'Set on the old key of a rotation: it stops working then' }),
    revoked_at: timestamp.nullable(),
    monthly_credit_budget: monthlyCreditBudget,
    credits_spent_this_month: z.number().int().meta({ description: 'Credits held or spent this UTC month by the jobs sent with this key' }),
  })
  .meta({ id: 'ApiKey' });

export const ApiKeyList = z.object({ items: z.array(ApiKey) }).meta({ id: 'ApiKeyList' });

function createdView({ key, apiKey }: CreatedKey): z.infer<typeof CreatedApiKey> {
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    created_at: key.createdAt.toISOString(),
    monthly_credit_budget: key.monthlyCreditBudget ?? null,
    api_key: apiKey,
  };
}

function keyView(key: ListedKey, now: Date): z.infer<typeof ApiKey> {
  const status = key.revokedAt ? 'revoked' : key.expiresAt && key.expiresAt <= now ? 'expired' : 'active';
  return {
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    created_at: key.createdAt.toISOString(),
    status,
    last_used_at: iso(key.lastUsedAt),
    expires_at: iso(key.expiresAt),
    revoked_at: iso(key.revokedAt),
    monthly_credit_budget: key.monthlyCreditBudget,
    credits_spent_this_month: key.creditsSpentThisMonth,
  };
}

/**
 * An old key in its rotation grace (expires_at set) stops working soon; it may not make keys
 * that last (create, rotate), so a leaked old key cannot outlive the rotation that replaced it.
 */
function refuseKeyInGrace(req: Request): void {
  const expiresAt = req.apiKey?.expiresAt;
  if (!expiresAt) return;
  throw AppError.conflict(
    ErrorCode.apiKeyInGrace,
    `This API key was rotated and stops working at ${expiresAt.toISOString()}; it cannot create or rotate keys. Use the key that replaced it`,
    { expires_at: expiresAt.toISOString() },
  );
}

export function createKeysRouter({ db, config }: Pick<AppDeps, 'db' | 'config'>, keys: KeyVerifier): Router {
  const router = Router();

  router.post('/keys', async (req, res) => {
    const { name, monthly_credit_budget } = parse(createKeyBody, req.body);
    refuseKeyInGrace(req);
    res.status(201).json(createdView(await createApiKey(db, config.apiKeyPepper, currentUser(req).id, name, monthly_credit_budget ?? null)));
  });

  router.patch('/keys/:key_id', async (req, res) => {
    const { key_id } = parse(keyIdParam, req.params, 'path');
    const { monthly_credit_budget } = parse(updateKeyBody, req.body);
    res.json(keyView(await setKeyBudget(db, currentUser(req).id, key_id, monthly_credit_budget), new Date()));
  });

  router.get('/keys', async (req, res) => {
    const now = new Date();
    res.json({ items: (await listApiKeys(db, currentUser(req).id)).map((k) => keyView(k, now)) });
  });

  router.delete('/keys/:key_id', async (req, res) => {
    const { key_id } = parse(keyIdParam, req.params, 'path');
    await keys.changed(key_id, () => revokeApiKey(db, currentUser(req).id, key_id));
    res.status(204).end();
  });

  router.post('/keys/:key_id/rotate', async (req, res) => {
    const { key_id } = parse(keyIdParam, req.params, 'path');
    refuseKeyInGrace(req);
    const request = { pepper: config.apiKeyPepper, userId: currentUser(req).id, keyId: key_id, graceSeconds: config.apiKeyRotationGraceSeconds };
    const rotated = await keys.changed(key_id, () => rotateApiKey(db, request));
    res.status(201).json({ ...createdView(rotated), replaces: { id: key_id, expires_at: rotated.oldExpiresAt.toISOString() } });
  });

  return router;
}
