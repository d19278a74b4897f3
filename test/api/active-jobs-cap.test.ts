import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** MAX_ACTIVE_JOBS_PER_ACCOUNT: an account's queued plus running jobs, counted where its credits are reserved. */
const CAP = 3;
const MODEL = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ env: { MAX_ACTIVE_JOBS_PER_ACCOUNT: String(CAP) } });
  user = await fundedUser(env);
});
afterAll(() => env?.stop());

/** A job that stays running until it is canceled (the local provider's per-prediction latency knob). */
const generate = (u: TestUser, prompt: string) => env.api.post('/api/v1/generate').set(u.auth).send({ model: MODEL, prompt, parameters: { fake_latency_ms: 600_000 } });
const quick = (u: TestUser, prompt: string) => env.api.post('/api/v1/generate').set(u.auth).send({ model: MODEL, prompt });

describe('the cap on an account’s active jobs', () => {
  it('when an account has the cap of jobs queued or running, then the next is refused with 429 too_many_active_jobs, Retry-After and the cap, and nothing is reserved or written', async () => {
    const accepted = [];
    for (let i = 0; i < CAP; i++) accepted.push((await generate(user, `slow ${i}`).expect(202)).body.job_id as string);
    const before = { balance: await env.api.get('/api/v1/balance').set(user.auth).expect(200), jobs: await env.db.job.count({ where: { userId: user.id } }) };

    const refused = await generate(user, 'one too many').expect(429);
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(refused.body.error).toMatchObject({ code: 'too_many_active_jobs', details: { cap: CAP, active: CAP } });
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(before.jobs);
    expect((await env.api.get('/api/v1/balance').set(user.auth).expect(200)).body).toEqual(before.balance.body);

    // Another account is not affected.
    const other = await fundedUser(env);
    await generate(other, 'mine').expect(202);

    // A canceled job counts out as soon as its reservation is released; then a new one is accepted.
    await env.api.delete(`/api/v1/jobs/${accepted[0]}`).set(user.auth).expect(202);
    expect((await env.waitForJob(user, accepted[0]!)).status).toBe('canceled');
    await generate(user, 'after a cancel').expect(202);
    await generate(user, 'still capped').expect(429);
  });

  it('when jobs end, canceled or succeeded, then the count goes back to what is really active', async () => {
    const active = await env.db.job.findMany({ where: { userId: user.id, status: { in: ['queued', 'running'] } }, select: { id: true } });
    for (const { id } of active) await env.api.delete(`/api/v1/jobs/${id}`).set(user.auth).expect(202);
    for (const { id } of active) expect((await env.waitForJob(user, id, 60_000)).status).toBe('canceled');
    expect((await env.db.creditBalance.findUniqueOrThrow({ where: { userId: user.id } })).activeJobs).toBe(0);

    const done = (await quick(user, 'room again').expect(202)).body.job_id as string;
    expect((await env.waitForJob(user, done, 60_000)).status).toBe('succeeded');
    expect((await env.db.creditBalance.findUniqueOrThrow({ where: { userId: user.id } })).activeJobs).toBe(0);
  }, 120_000);
});
