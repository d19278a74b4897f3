import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DbOrTx } from '../db/transaction';
import type { Db } from '../db/client';

/**
 * A user's webhook signing secret, `whsec_` + base64 of 32 random bytes (Standard Webhooks),
 * created on first use, and rotated on request: the old secret keeps signing next to the new one
 * (two `v1,` signatures in `webhook-signature`) for WEBHOOK_SECRET_ROTATION_GRACE_SECONDS, so a
 * receiver can switch without losing a delivery.
 *
 * Stored encrypted with AES-256-GCM under WEBHOOK_SECRET_ENCRYPTION_KEY (from the environment;
 * the AES key is its SHA-256): `enc1:` + base64(12-byte IV | 16-byte tag | ciphertext). Rows
 * written before encryption hold the plain `whsec_…`; they are read as they are and encrypted the
 * next time they are read (or rotated), so no migration has to know the key.
 */

const PREFIX = 'enc1:';

export interface SecretSettings {
  /** WEBHOOK_SECRET_ENCRYPTION_KEY */
  encryptionKey: string;
  /** WEBHOOK_SECRET_ROTATION_GRACE_SECONDS */
  rotationGraceSeconds: number;
}

const aesKey = (encryptionKey: string) => createHash('sha256').update(encryptionKey, 'utf8').digest();

export function encryptSecret(encryptionKey: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', aesKey(encryptionKey), iv);
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

/** The secret in clear: decrypted (throws if the key is wrong or the value was altered), or a plaintext row as it is. */
export function decryptSecret(encryptionKey: string, stored: string): string {
  if (!stored.startsWith(PREFIX)) return stored;
  const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', aesKey(encryptionKey), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

export const isEncrypted = (stored: string) => stored.startsWith(PREFIX);

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/** The current secret in clear, created on first use; a plaintext row is encrypted on the way. */
export async function webhookSecret(db: DbOrTx, settings: SecretSettings, userId: string): Promise<string> {
  return (await signingSecrets(db, settings, userId))[0]!;
}

/**
 * The secrets a delivery is signed with now: the current one, and the one it replaced while that
 * one's grace period lasts.
 */
export async function signingSecrets(db: DbOrTx, settings: SecretSettings, userId: string, now = new Date()): Promise<string[]> {
  await db.webhookSecret.createMany({ data: [{ userId, secret: encryptSecret(settings.encryptionKey, newSecret()) }], skipDuplicates: true });
  const row = await db.webhookSecret.findUniqueOrThrow({ where: { userId } });
  const current = decryptSecret(settings.encryptionKey, row.secret);
  if (!isEncrypted(row.secret)) {
    // Only if still the same plaintext: a concurrent rotation wins.
    await db.webhookSecret.updateMany({ where: { userId, secret: row.secret }, data: { secret: encryptSecret(settings.encryptionKey, current) } });
  }
  const previous = row.previousSecret && row.previousExpiresAt && row.previousExpiresAt > now ? decryptSecret(settings.encryptionKey, row.previousSecret) : null;
  return previous ? [current, previous] : [current];
}

/**
 * Replaces the user's secret with a new one; the old one keeps signing until
 * `previousExpiresAt`. A rotation during a grace period ends the older secret's grace at once.
 */
export async function rotateWebhookSecret(db: Db, settings: SecretSettings, userId: string, now = new Date()): Promise<{ key: string; previousExpiresAt: Date }> {
  return db.$transaction(async (tx) => {
    const current = await webhookSecret(tx, settings, userId);
    await tx.$executeRaw`SELECT 1 FROM webhook_secrets WHERE user_id = ${userId}::uuid FOR UPDATE`;
    const row = await tx.webhookSecret.findUniqueOrThrow({ where: { userId } });
    const key = newSecret();
    const previousExpiresAt = new Date(now.getTime() + settings.rotationGraceSeconds * 1000);
    await tx.webhookSecret.update({
      where: { userId },
      data: {
        secret: encryptSecret(settings.encryptionKey, key),
        previousSecret: isEncrypted(row.secret) ? row.secret : encryptSecret(settings.encryptionKey, current),
        previousExpiresAt,
        rotatedAt: now,
      },
    });
    return { key, previousExpiresAt };
  });
}
