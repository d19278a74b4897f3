import type { Activities } from '../../activities';
import { ledgerBalance } from '../../src/credits/ledger';
import { ledgerTotals } from '../../src/quota/ledger';
import { fundedUser, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * A job or prompt canceled while its create activity is in flight: the cancel does not reach an
 * activity that never heartbeats, and the workflow stops waiting for it, so the run the activity
 * then creates has nobody left to watch it. The activity sees its owner ended when it records the
 * run, and cancels the run at the provider; a prompt's images reserved for it are released.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let user: TestUser;
/** The runs created after their owner ended, by owner id. */
const lateRuns = new Map<string, string>();
/** Owners whose create activity is waiting for them to be canceled. */
const entered = new Set<string>();

beforeAll(async () => {
  env = await startTestEnv({
    // Long enough that a run the activity failed to cancel would still be running when checked.
    knobs: { latency_ms: 30_000 },
    // Every create of this file waits until its job or prompt is canceled, then creates the run.
    activities: (real: Activities) => ({
      async createPrediction(req) {
        const owner = req.owner && ('job' in req.owner ? req.owner.job : req.owner.prompt.promptId);
        if (owner) {
          entered.add(owner);
          await eventually(async () => {
            const row = 'job' in req.owner! ? await env.db.job.findUnique({ where: { id: owner } }) : await env.db.prompt.findUnique({ where: { id: owner } });
            return row?.status === 'canceled';
          }, 30_000, 50);
          const run = await real.createPrediction(req);
          lateRuns.set(owner, run.id);
          return run;
        }
        return real.createPrediction(req);
      },
    }),
  });
  user = await fundedUser(env, 100);
});
afterAll(() => env?.stop());

async function providerStatus(id: string): Promise<string> {
  const res = await fetch(`${env.replicate.apiBaseUrl}/predictions/${id}`, { headers: { Authorization: 'Bearer t' } });
  return ((await res.json()) as { status: string }).status;
}

/** Cancels the owner (DELETE `path`) while its create waits, then waits for the run created after it to be canceled at the provider. */
async function cancelWhileCreating(ownerId: string, path: string): Promise<void> {
  await eventually(async () => entered.has(ownerId), 15_000, 20);
  await env.api.delete(path).set(user.auth).expect(202);
  const runId = await eventually(async () => lateRuns.get(ownerId), 30_000, 50);
  await eventually(async () => (await providerStatus(runId)) === 'canceled', 15_000, 100);
}

it('when a job is canceled while its prediction is being created, then the run is canceled at the provider and the credits come back', async () => {
  const before = await ledgerBalance(env.db, user.id);
  const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'too late' });
  expect(res.status).toBe(202);
  const jobId: string = res.body.job_id;
  await cancelWhileCreating(jobId, `/api/v1/jobs/${jobId}`);
  const job = await env.db.job.findUniqueOrThrow({ where: { id: jobId } });
  expect(job).toMatchObject({ status: 'canceled', creditsSpent: 0 });
  expect(await ledgerBalance(env.db, user.id)).toEqual(before);
});

it('when a prompt is canceled while its prediction is being created, then the run is canceled at the provider and its images are released', async () => {
  const version = await trainedVersion(env.db, user.id);
  const res = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'TOK too late', num_outputs: 2 });
  expect(res.status).toBe(202);
  const promptId: string = res.body.prompt_id;
  await cancelWhileCreating(promptId, `/api/v1/prompts/${promptId}`);
  expect((await env.db.prompt.findUniqueOrThrow({ where: { id: promptId } })).status).toBe('canceled');
  await eventually(async () => (await ledgerTotals(env.db, version.id)).reserved === 0, 15_000, 100);
  expect((await ledgerTotals(env.db, version.id)).used).toBe(0);
});
