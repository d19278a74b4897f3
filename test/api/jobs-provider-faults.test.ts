import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const MODEL = 'black-forest-labs/flux-schnell';

describe('when the provider rate-limits (a 429 storm)', () => {
  let env: TestEnv;
  let user: TestUser;
  beforeAll(async () => {
    // 3 creates per 1-second window; 12 jobs at once must queue behind 429s and all complete.
    env = await startTestEnv({ knobs: { latency_ms: 20, create_rate_limit_per_minute: 3, rate_limit_window_ms: 1000 } });
    user = await fundedUser(env);
  });
  afterAll(() => env?.stop());

  it('then every job still completes, retrying after the reset time the provider gave', async () => {
    const ids = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: `storm ${i}` }).expect(202);
        return res.body.job_id as string;
      }),
    );
    const jobs = await Promise.all(ids.map((id) => env.waitForJob(user, id, 60_000)));
    expect(jobs.map((j) => j.status)).toEqual(Array(12).fill('succeeded'));
    expect(env.replicate.stats().rate_limited_creates).toBeGreaterThan(0);
    expect(Math.max(...jobs.map((j) => j.retry_count))).toBeGreaterThan(0);
    expect(env.replicate.stats().predictions_created).toBe(12);
  });
});

describe('when webhooks are lost', () => {
  let env: TestEnv;
  let user: TestUser;
  beforeAll(async () => {
    env = await startTestEnv({ knobs: { latency_ms: 100, webhooks_enabled: false }, env: { JOB_POLL_INTERVAL_MS: '300' } });
    user = await fundedUser(env);
  });
  afterAll(() => env?.stop());

  it('then polling on a timer completes the job', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'no webhook', num_outputs: 2 }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(2);
    expect(env.replicate.stats().webhooks_sent).toBe(0);
  });

  it('then a prediction that never finishes times out, is canceled at the provider, and fails clearly', async () => {
    const slowEnv = await startTestEnv({ knobs: { webhooks_enabled: false }, env: { JOB_POLL_INTERVAL_MS: '200', JOB_TIMEOUT_MS: '800' } });
    try {
      const u = await fundedUser(slowEnv);
      const res = await slowEnv.api.post('/api/v1/generate').set(u.auth).send({ model: MODEL, prompt: 'forever', parameters: { fake_latency_ms: 60_000 } }).expect(202);
      const job = await slowEnv.waitForJob(u, res.body.job_id);
      expect(job.status).toBe('failed');
      expect(job.error).toEqual({ code: 'prediction_timed_out', message: expect.stringContaining('did not finish') });
      expect(slowEnv.replicate.stats().predictions_canceled).toBe(1);
    } finally {
      await slowEnv.stop();
    }
  });
});
