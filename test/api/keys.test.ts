import supertest from 'supertest';
import { KEY_CHANGES_APPLICATION_NAME } from '../../src/accounts/key-changes';
import { MAX_ACTIVE_API_KEYS } from '../../src/accounts/keys';
import type { Config } from '../../src/config';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { eventually, sleep } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
});
afterAll(() => env?.stop());

/**
 * Another API process on the same database: its own app, so its own key memory and its own
 * listening connection, as a second replica behind a load balancer has.
 */
function otherApiProcess(overrides: Partial<Config> = {}) {
  const config = { ...env.config, ...overrides };
  return supertest(createApp({ config, logger: createLogger({ level: 'silent', name: 'keys-test' }), temporal: env.temporal, ...env.runtime }));
}

const bearer = (apiKey: string) => ({ Authorization: `Bearer ${apiKey}` });
const listKeys = async (user: TestUser) => (await env.api.get('/api/v1/keys').set(user.auth).expect(200)).body.items as Array<Record<string, any>>;

describe('POST /api/v1/keys and GET /api/v1/keys', () => {
  it('when a user creates a named key, then it works at once, the list shows it with its prefix and never the key or its hash', async () => {
    const user = await env.createUser();
    const created = await env.api.post('/api/v1/keys').set(user.auth).send({ name: '  ci-pipeline ' }).expect(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      name: 'ci-pipeline',
      prefix: created.body.api_key.slice(0, created.body.prefix.length),
      created_at: expect.any(String),
      monthly_credit_budget: null,
      api_key: expect.stringMatching(/^igk_/),
    });
    await env.api.get('/api/v1/balance').set(bearer(created.body.api_key)).expect(200);

    const keys = await listKeys(user);
    expect(keys.map((k) => [k.name, k.status])).toEqual([
      ['default', 'active'],
      ['ci-pipeline', 'active'],
    ]);
    expect(Object.keys(keys[1]!).sort()).toEqual(['created_at', 'credits_spent_this_month', 'expires_at', 'id', 'last_used_at', 'monthly_credit_budget', 'name', 'prefix', 'revoked_at', 'status']);
    expect(JSON.stringify(keys)).not.toContain(created.body.api_key);
    const stored = await env.db.apiKey.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(stored.keyHash).not.toContain(created.body.api_key);
    expect(JSON.stringify(keys)).not.toContain(stored.keyHash);
  });

  it('when a key is used, then last_used_at is set, and written at most once a minute however often it is used', async () => {
    const user = await env.createUser();
    const isTouch = (q: string) => /UPDATE "public"\."api_keys" SET "last_used_at"/.test(q);
    const writesBefore = env.queries.filter(isTouch).length;
    const before = Date.now();
    for (let i = 0; i < 5; i++) await env.api.get('/api/v1/balance').set(user.auth).expect(200);
    const key = await eventually(async () => (await listKeys(user)).find((k) => k.last_used_at));
    expect(new Date(key!.last_used_at).getTime()).toBeGreaterThanOrEqual(before - 1000);
    // Each GET and each listKeys call used the key; one write covers them all.
    expect(env.queries.filter(isTouch).length - writesBefore).toBe(1);
  });

  it('when the name is missing, empty or too long, or unknown fields come, then 422 and no key is created', async () => {
    const user = await env.createUser();
    for (const body of [{}, { name: '   ' }, { name: 'x'.repeat(65) }, { name: 'a', scope: 'admin' }]) {
      const res = await env.api.post('/api/v1/keys').set(user.auth).send(body).expect(422);
      expect(res.body.error.code).toBe('validation_failed');
    }
    expect(await listKeys(user)).toHaveLength(1);
  });

  it('when there is no key or a wrong one, then 401', async () => {
    await env.api.get('/api/v1/keys').expect(401);
    await env.api.post('/api/v1/keys').set(bearer(`igk_${'x'.repeat(43)}`)).send({ name: 'a' }).expect(401);
  });
});

describe('the cap on API keys', () => {
  it('when an account holds MAX_ACTIVE_API_KEYS working keys, then one more is 409 too_many_api_keys (also when asked for at once), and revoking one makes room', async () => {
    const user = await env.createUser();
    // The sign-up key is one; fill up to the cap, half of it in parallel.
    const created = await Promise.all(Array.from({ length: MAX_ACTIVE_API_KEYS + 4 }, (_, i) => env.api.post('/api/v1/keys').set(user.auth).send({ name: `k${i}` })));
    expect(created.filter((r) => r.status === 201)).toHaveLength(MAX_ACTIVE_API_KEYS - 1);
    const refused = created.filter((r) => r.status !== 201);
    expect(refused.map((r) => [r.status, r.body.error.code])).toEqual(Array(5).fill([409, 'too_many_api_keys']));
    expect(refused[0]!.body.error.details).toEqual({ active_keys: MAX_ACTIVE_API_KEYS, max_active_keys: MAX_ACTIVE_API_KEYS });
    expect(await listKeys(user)).toHaveLength(MAX_ACTIVE_API_KEYS);

    await env.api.delete(`/api/v1/keys/${created.find((r) => r.status === 201)!.body.id}`).set(user.auth).expect(204);
    await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'room again' }).expect(201);
    await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'over' }).expect(409);
  });
});

describe('DELETE /api/v1/keys/{id}', () => {
  it('when a key is revoked on one API process, then it is refused on every other at once, even where it was just verified', async () => {
    const user = await env.createUser();
    const second = (await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'laptop' }).expect(201)).body;
    const replicas = [otherApiProcess(), otherApiProcess()];
    // Both replicas verified (and remember) the key, and listen for changes.
    for (const api of replicas) {
      await api.get('/api/v1/balance').set(bearer(second.api_key)).expect(200);
      await api.get('/api/v1/balance').set(bearer(second.api_key)).expect(200);
    }
    await eventually(async () => {
      const rows = await env.db.$queryRaw<Array<{ n: bigint }>>`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = ${KEY_CHANGES_APPLICATION_NAME} AND datname = current_database()`;
      return Number(rows[0]!.n) >= 2;
    });

    await env.api.delete(`/api/v1/keys/${second.id}`).set(user.auth).expect(204);
    for (const api of replicas) {
      const res = await api.get('/api/v1/balance').set(bearer(second.api_key)).expect(401);
      expect(res.body.error.code).toBe('unauthorized');
    }
    await env.api.get('/api/v1/balance').set(bearer(second.api_key)).expect(401);
    // The other key still works; the revoked one is listed as revoked; revoking again changes nothing.
    await replicas[0]!.get('/api/v1/balance').set(user.auth).expect(200);
    const listed = (await listKeys(user)).find((k) => k.id === second.id)!;
    expect(listed).toMatchObject({ status: 'revoked', revoked_at: expect.any(String) });
    await env.api.delete(`/api/v1/keys/${second.id}`).set(user.auth).expect(204);
    expect((await listKeys(user)).find((k) => k.id === second.id)!.revoked_at).toBe(listed.revoked_at);
  });

  it('when the listening connection of a process is killed, then it verifies every key in the database until it is back, so a revocation it cannot hear still counts', async () => {
    const user = await env.createUser();
    const second = (await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'phone' }).expect(201)).body;
    const replica = otherApiProcess();
    await replica.get('/api/v1/balance').set(bearer(second.api_key)).expect(200);
    await env.db.$executeRaw`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${KEY_CHANGES_APPLICATION_NAME} AND datname = current_database()`;
    // Revoked straight in the database, so no process is told (the worst case of a lost notification).
    await env.db.apiKey.update({ where: { id: second.id }, data: { revokedAt: new Date() } });
    await eventually(async () => (await replica.get('/api/v1/balance').set(bearer(second.api_key))).status === 401, 5_000);
    await replica.get('/api/v1/balance').set(user.auth).expect(200);
  });

  it('when the last key that does not expire would be revoked, then 409 last_api_key and it keeps working', async () => {
    const user = await env.createUser();
    const [only] = await listKeys(user);
    const res = await env.api.delete(`/api/v1/keys/${only!.id}`).set(user.auth).expect(409);
    expect(res.body.error.code).toBe('last_api_key');
    await env.api.get('/api/v1/balance').set(user.auth).expect(200);
  });

  it('when two requests revoke the only two keys at once, then exactly one succeeds and one key keeps working', async () => {
    const user = await env.createUser();
    const second = (await env.api.post('/api/v1/keys').set(user.auth).send({ name: 'two' }).expect(201)).body;
    const [first] = await listKeys(user);
    const answers = await Promise.all([
      env.api.delete(`/api/v1/keys/${first!.id}`).set(bearer(second.api_key)),
      env.api.delete(`/api/v1/keys/${second.id}`).set(user.auth),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([204, 409]);
    expect((await env.db.apiKey.findMany({ where: { userId: user.id, revokedAt: null } })).length).toBe(1);
  });

  it("when a user names another user's key or no key, then 404 and the key keeps working", async () => {
    const alice = await env.createUser();
    const bob = await env.createUser();
    const bobKey = (await env.api.post('/api/v1/keys').set(bob.auth).send({ name: 'mine' }).expect(201)).body;
    for (const path of [`/api/v1/keys/${bobKey.id}`, `/api/v1/keys/${bobKey.id}/rotate`]) {
      const res = await (path.endsWith('rotate') ? env.api.post(path) : env.api.delete(path)).set(alice.auth).expect(404);
      expect(res.body.error.code).toBe('not_found');
    }
    await env.api.delete('/api/v1/keys/00000000-0000-4000-8000-000000000000').set(alice.auth).expect(404);
    expect((await env.api.delete('/api/v1/keys/not-a-uuid').set(alice.auth).expect(422)).body.error.code).toBe('validation_failed');
    await env.api.get('/api/v1/balance').set(bearer(bobKey.api_key)).expect(200);
  });
});

describe('POST /api/v1/keys/{id}/rotate', () => {
  it('when a key is rotated, then the new key works at once and the old one until its grace period ends, on every process', async () => {
    const replica = otherApiProcess({ apiKeyRotationGraceSeconds: 2 });
    const user = await env.createUser();
    const [old] = await listKeys(user);
    await env.api.get('/api/v1/balance').set(user.auth).expect(200);
    const rotatedAt = Date.now();
    const res = await replica.post(`/api/v1/keys/${old!.id}/rotate`).set(user.auth).expect(201);
    expect(res.body).toMatchObject({ name: 'default', api_key: expect.stringMatching(/^igk_/), replaces: { id: old!.id, expires_at: expect.any(String) } });
    const expiresAt = new Date(res.body.replaces.expires_at).getTime();
    expect(expiresAt - rotatedAt).toBeGreaterThan(1000);
    expect(expiresAt - rotatedAt).toBeLessThan(3000);

    await env.api.get('/api/v1/balance').set(bearer(res.body.api_key)).expect(200);
    await env.api.get('/api/v1/balance').set(user.auth).expect(200);
    expect((await listKeys(user)).map((k) => [k.name, k.status, k.expires_at !== null])).toEqual([
      ['default', 'active', true],
      ['default', 'active', false],
    ]);

    await sleep(Math.max(0, expiresAt - Date.now()) + 100);
    for (const api of [env.api, replica]) await api.get('/api/v1/balance').set(user.auth).expect(401);
    const newKey = bearer(res.body.api_key);
    expect((await env.api.get('/api/v1/keys').set(newKey).expect(200)).body.items[0].status).toBe('expired');

    // An expired or revoked key cannot be rotated again.
    const again = await env.api.post(`/api/v1/keys/${old!.id}/rotate`).set(newKey).expect(409);
    expect(again.body.error.code).toBe('api_key_inactive');
  });

  it('when the rotated key is revoked during its grace period, then it stops at once (an account keeps its new key)', async () => {
    const user = await env.createUser();
    const [old] = await listKeys(user);
    const rotated = (await env.api.post(`/api/v1/keys/${old!.id}/rotate`).set(user.auth).expect(201)).body;
    await env.api.delete(`/api/v1/keys/${old!.id}`).set(bearer(rotated.api_key)).expect(204);
    await env.api.get('/api/v1/balance').set(user.auth).expect(401);
    await env.api.get('/api/v1/balance').set(bearer(rotated.api_key)).expect(200);
  });
});
