import { createHmac, randomBytes, randomUUID } from 'node:crypto';

const PREFIX = 'igk_';

/** A new API key: shown to its owner once, stored only as a peppered hash. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string, pepper: string): string {
  return createHmac('sha256', pepper).update(key).digest('hex');
}

/** What we keep in clear to tell keys apart: the first characters only. */
export function keyPrefix(key: string): string {
  return key.slice(0, PREFIX.length + 6);
}

export function looksLikeApiKey(key: string): boolean {
  return key.startsWith(PREFIX) && key.length >= PREFIX.length + 40 && key.length <= 100;
}

/** A new key and the api_keys columns that stand for it (the key itself is not among them). */
export function newApiKeyRow(pepper: string, name: string) {
  const apiKey = generateApiKey();
  return { apiKey, row: { id: randomUUID(), name, keyHash: hashApiKey(apiKey, pepper), prefix: keyPrefix(apiKey) } };
}
