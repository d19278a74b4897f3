import { decryptSecret, encryptSecret, isEncrypted } from '../../src/webhooks-out/secret';

/** Webhook signing secrets at rest: AES-256-GCM under the environment's key, plaintext rows still readable. */

const KEY = 'a-test-webhook-secret-encryption-key-0123456789';
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

describe('webhook secret encryption', () => {
  it('when a secret is encrypted, then the stored value is marked enc1:, hides the secret, differs each time and decrypts back', () => {
    const a = encryptSecret(KEY, SECRET);
    const b = encryptSecret(KEY, SECRET);
    expect(a).toMatch(/^enc1:/);
    expect(isEncrypted(a)).toBe(true);
    expect(a).not.toContain(SECRET.slice(6));
    expect(a).not.toBe(b);
    expect(decryptSecret(KEY, a)).toBe(SECRET);
    expect(decryptSecret(KEY, b)).toBe(SECRET);
  });

  it('when the key is wrong or the stored value was altered, then decrypting throws instead of giving a wrong secret', () => {
    const stored = encryptSecret(KEY, SECRET);
    expect(() => decryptSecret(`${KEY}-other`, stored)).toThrow();
    const raw = Buffer.from(stored.slice(5), 'base64');
    raw[raw.length - 1] = raw[raw.length - 1]! ^ 1;
    expect(() => decryptSecret(KEY, `enc1:${raw.toString('base64')}`)).toThrow();
  });

  it('when a row holds a plaintext secret from before encryption, then it reads as it is', () => {
    expect(isEncrypted(SECRET)).toBe(false);
    expect(decryptSecret(KEY, SECRET)).toBe(SECRET);
  });
});
