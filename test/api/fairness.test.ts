import { eventually } from '../helpers/http';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * One account floods the rate-limited provider queue; another account's single job must not wait
 * behind the flood. Temporal's task queue fairness (every workflow and its activities carry the
 * account as fairness key; the dev server runs with matching.enableFairness) dispatches the two
 * accounts' backlogs in turn. Judged by order, not by time: how many of the flood's predictions
 * were created between the other account's job arriving and its own prediction being created.
 */
const FLOOD = 20;
/** Prediction creations per second the server allows on the create queue here: the flood takes about FLOOD s to drain. */
const CREATE_RATE = 1;
const MODEL = 'black-forest-labs/flux-schnell';

let env: TestEnv;
let flooder: TestUser;
let other: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ env: { REPLICATE_CREATE_RATE_PER_SECOND: String(CREATE_RATE) } });
  [flooder, other] = await Promise.all([fundedUser(env), fundedUser(env)]);
});
afterAll(() => env?.stop());

const submit = async (user: TestUser, prompt: string): Promise<string> =>
  (await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt }).expect(202)).body.job_id;

describe('fair shares of the provider queue', () => {
  it("when one account has a backlog on the rate-limited create queue, then another account's job is created at the provider after a few of the flood's, not after all of them", async () => {
    const flood = await Promise.all(Array.from({ length: FLOOD }, (_, i) => submit(flooder, `flood ${i}`)));
    // The flood is draining at the queue's rate: its backlog is on the create queue now.
    await eventually(async () => ((await env.db.job.count({ where: { id: { in: flood }, startedAt: { not: null } } })) >= 2 ? true : undefined), 60_000, 100);

    const single = await submit(other, 'just one');
    const arrived = (await env.db.job.findUniqueOrThrow({ where: { id: single } })).createdAt;
    const waiting = await env.db.job.count({ where: { id: { in: flood }, startedAt: null } });
    expect((await env.waitForJob(other, single, 90_000)).status).toBe('succeeded');
    const own = await env.db.job.findUniqueOrThrow({ where: { id: single } });
    const ahead = await env.db.job.count({ where: { id: { in: flood }, startedAt: { gt: arrived, lt: own.startedAt! } } });

    // First come, first served would create every waiting flood job first (ahead = waiting); a fair
    // share, the few dispatched while this job's workflow reached the queue (seconds on a loaded
    // machine) and its turn came: it overtakes most of the backlog.
    expect(waiting).toBeGreaterThanOrEqual(FLOOD / 2);
    expect({ ahead, waiting, overtaken: ahead < waiting / 2 }).toEqual({ ahead, waiting, overtaken: true });

    // The flood still completes: fairness reorders, it drops nothing.
    for (const id of flood) expect((await env.waitForJob(flooder, id, 90_000)).status).toBe('succeeded');
  }, 180_000);
});
