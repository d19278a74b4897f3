import { verifyWebhook } from '../../src/provider/webhook-signature';
import { decryptSecret, encryptSecret } from '../../src/webhooks-out/secret';
import { startTestEnv, type TestEnv } from '../helpers/test-env';
import { startReceiver } from './webhook-receiver';

/**
 * The webhook signing secret: stored encrypted, rotated with a grace period in which every
 * delivery carries a signature with each secret.
 */

let env: TestEnv;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await env?.stop();
});

const signatures = (path: string) => {
  const got = receiver.at(path).at(-1)!;
  const headers = { id: got.headers['webhook-id'] as string, timestamp: got.headers['webhook-timestamp'] as string, signature: got.headers['webhook-signature'] as string };
  return {
    parts: headers.signature.split(' '),
    verifiesWith: (secret: string) => verifyWebhook({ secret, headers, body: Buffer.from(got.body), toleranceSeconds: 300 }).ok,
  };
};

describe('the webhook signing secret', () => {
  it('when it is first read, then it is stored encrypted under the environment key, never in clear', async () => {
    const user = await env.createUser();
    const { key } = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body;
    expect(key).toMatch(/^whsec_/);
    const row = await env.db.webhookSecret.findUniqueOrThrow({ where: { userId: user.id } });
    expect(row.secret).toMatch(/^enc1:/);
    expect(row.secret).not.toContain(key.slice(6));
    expect(decryptSecret(env.config.webhooks.secrets.encryptionKey, row.secret)).toBe(key);
  });

  it('when a row still holds a plaintext secret from before encryption, then it keeps working and is encrypted at its next read', async () => {
    const user = await env.createUser();
    const legacy = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    await env.db.webhookSecret.create({ data: { userId: user.id, secret: legacy } });
    expect((await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key).toBe(legacy);
    const row = await env.db.webhookSecret.findUniqueOrThrow({ where: { userId: user.id } });
    expect(row.secret).toMatch(/^enc1:/);
    expect((await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key).toBe(legacy);
  });

  it('when it is rotated, then deliveries carry two signatures (new and old) during the grace period, and only the new one after it', async () => {
    const user = await env.createUser();
    const old = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
    const rotated = await env.api.post('/api/v1/webhooks/secret/rotate').set(user.auth).expect(201);
    expect(rotated.body).toEqual({ key: expect.stringMatching(/^whsec_/), previous_expires_at: expect.any(String) });
    expect(rotated.body.key).not.toBe(old);
    expect(new Date(rotated.body.previous_expires_at).getTime() - Date.now()).toBeGreaterThan((env.config.webhooks.secrets.rotationGraceSeconds - 60) * 1000);
    expect((await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key).toBe(rotated.body.key);
    const row = await env.db.webhookSecret.findUniqueOrThrow({ where: { userId: user.id } });
    expect(row.previousSecret).toMatch(/^enc1:/);

    expect((await env.api.post('/api/v1/webhooks/test').set(user.auth).send({ url: receiver.url('/during') }).expect(200)).body.delivered).toBe(true);
    const during = signatures('/during');
    expect(during.parts).toHaveLength(2);
    expect(during.parts.every((p) => p.startsWith('v1,'))).toBe(true);
    expect(during.verifiesWith(rotated.body.key)).toBe(true);
    expect(during.verifiesWith(old)).toBe(true);

    // The grace period ends.
    await env.db.webhookSecret.update({ where: { userId: user.id }, data: { previousExpiresAt: new Date(Date.now() - 1000) } });
    await env.api.post('/api/v1/webhooks/test').set(user.auth).send({ url: receiver.url('/after') }).expect(200);
    const after = signatures('/after');
    expect(after.parts).toHaveLength(1);
    expect(after.verifiesWith(rotated.body.key)).toBe(true);
    expect(after.verifiesWith(old)).toBe(false);
  });

  it('when it is rotated twice, then the first secret stops signing at once and the second signs through the new grace period', async () => {
    const user = await env.createUser();
    const first = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
    const second = (await env.api.post('/api/v1/webhooks/secret/rotate').set(user.auth).expect(201)).body.key;
    const third = (await env.api.post('/api/v1/webhooks/secret/rotate').set(user.auth).expect(201)).body.key;
    await env.api.post('/api/v1/webhooks/test').set(user.auth).send({ url: receiver.url('/twice') }).expect(200);
    const sent = signatures('/twice');
    expect(sent.parts).toHaveLength(2);
    expect([first, second, third].map((s) => sent.verifiesWith(s))).toEqual([false, true, true]);
  });

  it('when a stored value was encrypted under another key, then reading it fails loudly rather than signing with a wrong secret', async () => {
    const user = await env.createUser();
    await env.db.webhookSecret.create({ data: { userId: user.id, secret: encryptSecret('some-other-key-that-is-long-enough-0000', 'whsec_x') } });
    const res = await env.api.get('/api/v1/webhooks/secret').set(user.auth);
    expect(res.status).toBe(500);
  });
});
