import type { Activities } from '../../activities';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const MODEL = 'black-forest-labs/flux-schnell';

describe('when the provider returns more outputs than the job asked for', () => {
  let env: TestEnv;
  let user: TestUser;
  beforeAll(async () => {
    env = await startTestEnv({
      // Completion by polling only, and each poll answers with every output listed three times.
      knobs: { latency_ms: 100, webhooks_enabled: false },
      env: { JOB_POLL_INTERVAL_MS: '200' },
      activities: (real: Activities) => ({
        async getPrediction(id: string) {
          const p = await real.getPrediction(id);
          return Array.isArray(p.output) ? { ...p, output: [...p.output, ...p.output, ...p.output] } : p;
        },
      }),
    });
    user = await fundedUser(env, 100);
  });
  afterAll(() => env?.stop());

  it('then it stores and is charged for only the outputs it asked for', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'just one', num_outputs: 1 }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(1);
    const row = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id } });
    const balance = await env.api.get('/api/v1/balance').set(user.auth).expect(200);
    expect(balance.body).toEqual({ credits: 100 - row.creditsSpent!, reserved: 0 });
    expect(row.creditsSpent).toBe(row.priceCredits);
  });
});
