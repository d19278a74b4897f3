import { createImagegenClient, type ImagegenClient } from '../../clients/typescript';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv } from '../helpers/test-env';

/**
 * The typed client (clients/typescript, as the README shows it) from Node against the real API:
 * openapi-fetch with the generated types, the Bearer key added per request.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 200 } });
});
afterAll(async () => {
  await env?.stop();
});

describe('the typed client from Node', () => {
  it('when a program signs up with it and runs a model in sync mode, then it gets the typed account, the finished job (201) and its headers', async () => {
    const anonymous = createImagegenClient({ baseUrl: env.baseUrl });
    const signup = await anonymous.POST('/api/v1/users', { body: { email: `typed-${Date.now()}@example.com` } });
    expect(signup.response.status).toBe(201);
    const apiKey = signup.data!.api_key;

    const api: ImagegenClient = createImagegenClient({ baseUrl: env.baseUrl, apiKey });
    const balance = await api.GET('/api/v1/balance');
    expect(balance.data).toEqual({ credits: 0, reserved: 0 });

    // An error answer is typed as the API's error body.
    const poor = await api.POST('/api/v1/generate', { body: { model: MODEL, prompt: 'a lighthouse' } });
    expect([poor.response.status, poor.error?.error.code]).toEqual([402, 'insufficient_credits']);

    const funded = await fundedUser(env, 100);
    const client = createImagegenClient({ baseUrl: env.baseUrl, apiKey: () => funded.apiKey });
    const { data, response } = await client.POST('/api/v1/generate', {
      params: { header: { Prefer: 'wait=30' } },
      body: { model: MODEL, prompt: 'a lighthouse', max_credits: 10 },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('Preference-Applied')).toBe('wait=30');
    expect(data).toMatchObject({ status: 'succeeded', model: MODEL, outputs: [expect.objectContaining({ index: 0 })] });
  });

  it('when a program creates a key with a budget and changes it, then each answer is the typed key, and the key it made works', async () => {
    const user = await env.createUser();
    const api = createImagegenClient({ baseUrl: env.baseUrl, apiKey: user.apiKey });
    const created = await api.POST('/api/v1/keys', { body: { name: 'nightly-batch', monthly_credit_budget: 500 } });
    expect(created.data).toMatchObject({ name: 'nightly-batch', monthly_credit_budget: 500, api_key: expect.stringMatching(/^igk_/) });

    const updated = await api.PATCH('/api/v1/keys/{key_id}', { params: { path: { key_id: created.data!.id } }, body: { monthly_credit_budget: null } });
    expect(updated.data).toMatchObject({ id: created.data!.id, status: 'active', monthly_credit_budget: null, credits_spent_this_month: 0 });

    // A request's own Authorization wins over the client's key.
    const asNewKey = await api.GET('/api/v1/keys', { headers: { Authorization: `Bearer ${created.data!.api_key}` } });
    expect(asNewKey.data!.items.map((k) => k.name)).toContain('nightly-batch');
    const unknown = await api.GET('/api/v1/balance', { headers: { Authorization: 'Bearer igk_not_a_key' } });
    expect(unknown.response.status).toBe(401);
  });
});
