import { forWorkflowRun, providerWebhookUrl, workflowOfWebhook } from '../../src/provider/webhook-url';

/** The provider webhook URL: made by the API, given its run by the create activity, read back by the handler. */
describe('the provider webhook URL', () => {
  const workflowId = 'job-0d3c2a6e-8f7b-4d8e-9a51-5c8f1b2e4a77';
  const runId = '01a251b3-7a68-7a82-9e6e-54281fd76692';

  it('when the API makes it and the create names the run, then the handler reads the same workflow and run back', () => {
    const url = forWorkflowRun(providerWebhookUrl('https://api.example.com', workflowId), runId);
    expect(url).toBe(`https://api.example.com/api/v1/webhooks/replicate?workflow_id=${workflowId}&run_id=${runId}`);
    expect(workflowOfWebhook(Object.fromEntries(new URL(url).searchParams))).toEqual({ workflowId, runId });
  });

  it('when a create ran before runs were named, then the workflow alone is read', () => {
    expect(workflowOfWebhook({ workflow_id: workflowId })).toEqual({ workflowId, runId: undefined });
  });

  it('when the query was not made by us, then it names nothing (the handler looks the prediction up instead)', () => {
    expect(workflowOfWebhook({ workflow_id: 'job-; DROP TABLE jobs' })).toEqual({});
    expect(workflowOfWebhook({ workflow_id: workflowId, run_id: 'not-a-uuid' })).toEqual({});
    expect(workflowOfWebhook({ run_id: runId })).toEqual({});
    expect(workflowOfWebhook({ workflow_id: [workflowId, workflowId] })).toEqual({});
  });
});
