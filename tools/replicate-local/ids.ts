import { randomBytes, randomInt } from 'node:crypto';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A 26-character lowercase id like Replicate's prediction and training ids. */
export function newJobId(): string {
  return Array.from({ length: 26 }, () => ID_ALPHABET[randomInt(ID_ALPHABET.length)]).join('');
}

/** A fresh 64-hex model version id. */
export function randomVersionId(): string {
  return randomBytes(32).toString('hex');
}

/** A random seed in the range Replicate's image models log. */
export function randomSeed(): number {
  return randomInt(0, 2 ** 31 - 1);
}
