import { currentRequestId } from '../../src/temporal/request-id';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv } from '../helpers/test-env';

describe('the request id', () => {
  const seen: Array<string | undefined> = [];
  let env: TestEnv;

  beforeAll(async () => {
    env = await startTestEnv({
      // Wrap one real activity to see the request id its log lines carry.
      activities: (real) => ({
        createPrediction: async (req) => {
          seen.push(currentRequestId());
          return real.createPrediction(req);
        },
      }),
    });
  });
  afterAll(() => env?.stop());

  it('when a request carries X-Request-Id, then it is echoed, kept on the workflow and reaches the activities', async () => {
    const user = await fundedUser(env);
    const res = await env.api
      .post('/api/v1/generate')
      .set(user.auth)
      .set('X-Request-Id', 'req-from-the-client-42')
      .send({ model: 'black-forest-labs/flux-schnell', prompt: 'traced' })
      .expect(202);
    expect(res.headers['x-request-id']).toBe('req-from-the-client-42');
    expect((await env.waitForJob(user, res.body.job_id)).status).toBe('succeeded');

    const described = await env.temporal.workflow.getHandle(`job-${res.body.job_id}`).describe();
    expect(described.memo).toMatchObject({ requestId: 'req-from-the-client-42' });
    expect((await env.temporal.workflow.count(`RequestId = "req-from-the-client-42"`)).count).toBe(1);
    expect(seen).toEqual(['req-from-the-client-42']);
  });
});
