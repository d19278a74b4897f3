import { createActivities, type Activities } from '../../activities';
import { getBalance, ledgerBalance } from '../../src/credits/ledger';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const MODEL = 'black-forest-labs/flux-schnell';
const OUTPUT = { key: 'jobs/x/0.png', contentType: 'image/png', sizeBytes: 10, sha256: 'a'.repeat(64), width: 1, height: 1, sourceUrl: 'http://127.0.0.1/x' };

/**
 * A cancel that lands while a job or prompt completes: the two final transitions race in
 * Postgres. Whichever commits first wins, whole: canceled and refunded, or succeeded and
 * charged, never succeeded for free.
 */
describe('when a cancel and the completion of a job commit at the same moment', () => {
  let env: TestEnv;
  let user: TestUser;
  let acts: Activities;
  beforeAll(async () => {
    // No worker: the test plays the workflow's final steps itself, concurrently.
    env = await startTestEnv({ worker: false });
    acts = createActivities(env.runtime);
    user = await fundedUser(env, 1000);
  });
  afterAll(() => env?.stop());

  it('then every job ends either canceled with its credits back or succeeded and charged, and the ledger balances', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: `race ${i}`, num_outputs: 2 }).expect(202);
      ids.push(res.body.job_id);
    }
    // One pair at a time (the pool is small); within a pair both transactions run at once,
    // each side starting first half of the time.
    for (const [i, jobId] of ids.entries()) {
      const complete = () => acts.completeJob({ jobId, outputs: [{ ...OUTPUT, index: 0 }, { ...OUTPUT, index: 1, key: 'jobs/x/1.png' }], metrics: null, providerCompletedAt: null });
      const cancel = () => acts.cancelJob({ jobId });
      await Promise.all(i % 2 ? [complete(), cancel()] : [cancel(), complete()]);
    }

    const jobs = await env.db.job.findMany({ where: { id: { in: ids } }, include: { outputs: true } });
    for (const job of jobs) {
      if (job.status === 'succeeded') {
        expect(job.creditsSpent).toBeGreaterThan(0);
        expect(job.outputs).toHaveLength(2);
      } else {
        expect(job.status).toBe('canceled');
        expect(job.creditsSpent).toBe(0);
        expect(job.outputs).toHaveLength(0);
      }
    }
    const spent = jobs.reduce((sum, j) => sum + (j.creditsSpent ?? 0), 0);
    expect(await getBalance(env.db, user.id)).toEqual({ credits: 1000 - spent, reserved: 0 });
    expect(await ledgerBalance(env.db, user.id)).toEqual({ credits: 1000 - spent, reserved: 0 });
  });
});
