import { startTestEnv, type TestEnv } from '../helpers/test-env';

/** The old key of a rotation works through its grace period, but cannot make keys that outlive it. */

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
});
afterAll(() => env?.stop());

const bearer = (apiKey: string) => ({ Authorization: `Bearer ${apiKey}` });

describe('a rotated key in its grace period', () => {
  it('when it creates a key or rotates any key, then 409 api_key_in_grace and no key is made; it still reads, and the new key creates', async () => {
    const user = await env.createUser();
    const [old] = (await env.api.get('/api/v1/keys').set(user.auth).expect(200)).body.items;
    const rotated = (await env.api.post(`/api/v1/keys/${old.id}/rotate`).set(user.auth).expect(201)).body;
    const before = await env.db.apiKey.count({ where: { userId: user.id } });

    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'from-the-old-key' }).expect(409);
    expect(created.body.error).toMatchObject({ code: 'api_key_in_grace', details: { expires_at: expect.any(String) } });
    for (const keyId of [old.id, rotated.id]) {
      const res = await env.api.post(`/api/v1/keys/${keyId}/rotate`).set(user.auth).expect(409);
      expect(res.body.error.code).toBe('api_key_in_grace');
    }
    expect(await env.db.apiKey.count({ where: { userId: user.id } })).toBe(before);
    expect((await env.db.apiKey.findUniqueOrThrow({ where: { id: rotated.id } })).expiresAt).toBeNull();

    await env.api.get('/api/v1/keys').set(user.auth).expect(200);
    await env.api.post('/api/v1/keys').set(bearer(rotated.api_key)).send({ name: 'from-the-new-key' }).expect(201);
  });
});
