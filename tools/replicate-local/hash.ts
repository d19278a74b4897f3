import { createHash } from 'node:crypto';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `length` pseudo-random bytes derived from `key` (SHA-256 in counter mode): deterministic "randomness". */
export function hashBytes(key: string, length: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; blocks.length * 32 < length; i++) {
    blocks.push(createHash('sha256').update(`${i}\u0000${key}`).digest());
  }
  return Buffer.concat(blocks).subarray(0, length);
}
