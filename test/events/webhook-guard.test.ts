import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * The outbound webhook address guard, wired end to end: every other test environment sets
 * WEBHOOK_ALLOW_LOOPBACK=true (their receivers listen on loopback), so here it is off, as in
 * production. A plain TCP listener on loopback stands where a private service would be: any
 * connection to it, TLS or not, would mean the guard let a request through.
 * (test/unit/webhook-address-guard.test.ts has the address rules themselves.)
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let user: TestUser;
let listener: net.Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  env = await startTestEnv({ env: { WEBHOOK_ALLOW_LOOPBACK: 'false' } });
  user = await fundedUser(env, 100);
  listener = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((resolve) => listener?.close(resolve));
  await env?.stop();
});

const balance = async () => (await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body;

describe('the outbound webhook guard with loopback not allowed', () => {
  it('when a job or a batch names a plain http loopback webhook, then it is refused with 422 and nothing is created or reserved', async () => {
    expect(env.config.webhooks.allowLoopback).toBe(false);
    const before = await balance();
    const hook = `http://127.0.0.1:${port}/hook`;

    const job = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a guarded lamp', webhook: hook });
    expect([job.status, job.body.error?.code]).toEqual([422, 'validation_failed']);
    expect(job.body.error.message).toMatch(/webhook must be an https URL/);
    const batch = await env.api.post('/api/v1/batches').set(user.auth).send({ jobs: [{ model: MODEL, prompt: 'a guarded kite' }], webhook: hook });
    expect([batch.status, batch.body.error?.code]).toEqual([422, 'validation_failed']);

    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);
    expect(await env.db.batch.count({ where: { userId: user.id } })).toBe(0);
    expect(await balance()).toEqual(before);
    expect(connections).toBe(0);
  });

  it('when a test event is sent to a loopback, private or link-local address, then it is refused with 422 webhook_url_refused and nothing connects', async () => {
    for (const url of [
      `https://127.0.0.1:${port}/hook`,
      `https://localhost:${port}/hook`, // a name: refused for the address it resolves to
      `https://[::1]:${port}/hook`,
      `https://[::ffff:127.0.0.1]:${port}/hook`,
      'https://10.0.0.1/hook',
      'https://169.254.169.254/latest/meta-data',
    ]) {
      const res = await env.api.post('/api/v1/webhooks/test').set(user.auth).send({ url });
      expect({ url, status: res.status, code: res.body.error?.code }).toEqual({ url, status: 422, code: 'webhook_url_refused' });
    }
    // Plain http is refused before any address is looked at.
    const http = await env.api.post('/api/v1/webhooks/test').set(user.auth).send({ url: `http://127.0.0.1:${port}/hook` });
    expect([http.status, http.body.error?.code]).toEqual([422, 'validation_failed']);
    expect(connections).toBe(0);
    expect(await env.db.webhookDelivery.count({ where: { userId: user.id } })).toBe(0);
  });

  it('when a job\'s https webhook names a host that resolves to loopback, then the job runs and each of its events is recorded refused, without a connection or a retry', async () => {
    // Accepted when created: a name's addresses are checked each time an event is posted (DNS may change).
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a guarded boat', webhook: `https://localhost:${port}/hook` }).expect(202);
    const jobId: string = res.body.job_id;
    expect((await env.waitForJob(user, jobId)).status).toBe('succeeded');

    const deliveries = await eventually(async () => {
      const list = (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200)).body.items;
      return list.some((d: { event: string }) => d.event === 'completed') && list;
    }, 30_000);
    for (const d of deliveries) {
      expect(d).toMatchObject({ attempt: 1, status_code: null, next_retry_at: null, error: expect.stringMatching(/^The webhook host localhost resolves to a private, loopback or link-local address/) });
    }
    expect(connections).toBe(0);
  });
});
