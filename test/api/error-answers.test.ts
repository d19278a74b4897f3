import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Client } from '@temporalio/client';
import supertest from 'supertest';
import { createApp } from '../../src/http/app';
import { apiRoutes } from '../../src/http/openapi/registry';
import { createLogger } from '../../src/logger';
import { fundedUser, trainedVersion } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** The inputs that answered 500 before the fuzz suite, each pinned; and no Temporal error text in answers. */

let env: TestEnv;
let user: TestUser;
beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  user = await fundedUser(env, 100);
});
afterAll(() => env?.stop());

/** Sends the path as written: supertest and fetch would re-encode it. */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const url = new URL(env.baseUrl);
  return new Promise((resolve, reject) => {
    http
      .request({ host: url.hostname, port: url.port, path, method: 'GET', headers }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      })
      .on('error', reject)
      .end();
  });
}

describe('malformed input answers 4xx, never 500', () => {
  it('when a path parameter is not valid percent-encoded UTF-8, then every route with an id answers 400 invalid_path', async () => {
    const templated = apiRoutes.filter((r) => /\{\w+\}/.test(r.path) && r.method === 'get');
    expect(templated.length).toBeGreaterThanOrEqual(8);
    for (const route of templated) {
      for (const bad of ['%ED%A0%80', '%zz', '%C0%AF']) {
        const res = await rawGet(route.path.replace(/\{\w+\}/g, bad), user.auth);
        expect([route.path, bad, res.status, res.body.error?.code]).toEqual([route.path, bad, 400, 'invalid_path']);
      }
    }
  });

  it('when a list gets a cursor it did not give out (a bad id, a bad time, extra parts), then 400 invalid_cursor', async () => {
    const version = await trainedVersion(env.db, user.id);
    const b64 = (s: string) => Buffer.from(s).toString('base64url');
    const now = new Date().toISOString();
    for (const list of ['/api/v1/jobs', '/api/v1/usage', '/api/v1/versions', `/api/v1/prompts/list/${version.id}`]) {
      for (const cursor of [b64(`${now}|not-a-uuid`), b64(`${now}|${'-'.repeat(36)}`), b64(`2024-02-31T00:00:00.000Z|${randomUUID()}`), b64(`${now}|${randomUUID()}|x`), 'bogus']) {
        const res = await env.api.get(list).query({ cursor }).set(user.auth);
        expect([list, cursor, res.status, res.body.error?.code]).toEqual([list, cursor, 400, 'invalid_cursor']);
      }
      // A cursor the API gave out still works.
      await env.api.get(list).query({ cursor: b64(`${now}|${randomUUID()}`) }).set(user.auth).expect(200);
    }
  });

  it('when the deliveries resource id is not a uuid (36 dashes), then 422 validation_failed', async () => {
    const res = await env.api.get('/api/v1/webhooks/deliveries').query({ resource: `job:${'-'.repeat(36)}` }).set(user.auth);
    expect([res.status, res.body.error?.code]).toEqual([422, 'validation_failed']);
  });
});

describe('Temporal errors stay in the log', () => {
  it('when the workflow service refuses a start, then 503 names the component and carries none of its error text', async () => {
    const refusing = new Client({ connection: env.temporal.connection, namespace: `no-such-namespace-${randomUUID().slice(0, 8)}` });
    const app = createApp({ config: env.config, logger: createLogger({ level: 'silent', name: 'error-answers' }), temporal: refusing, ...env.runtime });
    const res = await supertest(app).post('/api/v1/generate').set(user.auth).send({ model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse' });
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({ code: 'service_unavailable', message: expect.any(String), details: { component: 'temporal' } });
    expect(res.text).not.toMatch(/namespace|grpc|NOT_FOUND|127\.0\.0\.1/i);
    // Nothing was started, so nothing was kept: no job row.
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);
  });
});
