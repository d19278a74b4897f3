import { activityInfo } from '@temporalio/activity';
import type { Activities } from '../../activities';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const MODEL = 'black-forest-labs/flux-schnell';

/**
 * A create that reached the provider and whose answer was then lost (a timeout, a 5xx after
 * the fact, a worker that died) must not leave a second paid prediction running.
 */
describe('when the answer to a prediction create is lost after the provider accepted it', () => {
  let env: TestEnv;
  let user: TestUser;
  beforeAll(async () => {
    env = await startTestEnv({
      knobs: { latency_ms: 300 },
      // The first attempt really creates the prediction, then its answer is lost.
      activities: (real: Activities) => ({
        async createPrediction(req) {
          const created = await real.createPrediction(req);
          if (activityInfo().attempt === 1) throw new Error('connection reset after the provider accepted the create');
          return created;
        },
      }),
    });
    user = await fundedUser(env);
  });
  afterAll(() => env?.stop());

  it('then the retry adopts the prediction the first attempt created: one run, one charge', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'lost answer', num_outputs: 2, seed: 7 }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(2);
    expect(env.replicate.stats().predictions_created).toBe(1);
    expect(env.replicate.stats().predictions_canceled).toBe(0);
    const row = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id } });
    expect(row.retryCount).toBe(1);
  });
});

describe('when a retried create misses the earlier prediction and starts a second one', () => {
  let env: TestEnv;
  let user: TestUser;
  beforeAll(async () => {
    env = await startTestEnv({
      // The stray must still be running when the workflow hears of it: it gets the retry's backoff
      // (1 s) plus however long a loaded machine takes to dispatch the retry and the cancel.
      knobs: { latency_ms: 6000 },
      // Both attempts create without looking (as when the provider's list lags behind): the
      // first one's answer is lost, so two predictions run for one job.
      activities: (real: Activities) => ({
        async createPrediction(req) {
          const created = await env.runtime.provider.createPrediction({
            model: req.model,
            input: req.input,
            webhook: req.webhookUrl ?? undefined,
            webhookEventsFilter: ['start', 'completed'],
          });
          if (activityInfo().attempt === 1) throw new Error('gateway timeout after the provider accepted the create');
          const run = { ...(await real.getPrediction(created.id)), attempts: activityInfo().attempt };
          // As the real create does: the run is recorded on the job it is for.
          if (req.owner && 'job' in req.owner) await real.markJobRunning({ jobId: req.owner.job, predictionId: run.id, modelVersion: run.version, retryCount: run.attempts - 1 });
          return run;
        },
      }),
    });
    user = await fundedUser(env);
  });
  afterAll(() => env?.stop());

  it("then the stray run's start webhook reaches the workflow, which cancels it; the outputs come from its own run", async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'stray', seed: 9 }).expect(202);
    const job = await env.waitForJob(user, res.body.job_id);
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(1);
    const stats = env.replicate.stats();
    expect(stats.predictions_created).toBe(2);
    expect(stats.predictions_canceled).toBe(1);
    const row = await env.db.job.findUniqueOrThrow({ where: { id: res.body.job_id }, include: { outputs: true } });
    expect(row.outputs[0]!.sourceUrl).toContain(row.providerPredictionId!);
  });
});
