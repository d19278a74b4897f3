import { randomBytes } from 'node:crypto';
import type { DbOrTx } from '../db/transaction';

/**
 * A user's webhook signing secret, `whsec_` + base64 of 32 random bytes (Standard Webhooks),
 * created on first use. Stored as is (not encrypted): the worker needs it in clear to sign,
 * and it grants nothing but the ability to forge webhooks to the user's own receiver.
 */
export async function webhookSecret(db: DbOrTx, userId: string): Promise<string> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  await db.webhookSecret.createMany({ data: [{ userId, secret }], skipDuplicates: true });
  const row = await db.webhookSecret.findUniqueOrThrow({ where: { userId } });
  return row.secret;
}
