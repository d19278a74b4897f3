import { z } from 'zod';

/**
 * The webhook URL we give Replicate for a run, in one place: the API makes it when it starts the
 * workflow (naming the workflow), the create activity adds the workflow run (a finished run's late
 * webhooks then go nowhere, and a retried create recognises its earlier run by it), and the
 * webhook handler (src/http/routes/webhooks.ts) reads both back.
 */
const PATH = '/api/v1/webhooks/replicate';

/** Where Replicate posts a workflow's prediction or training updates; the handler signals that workflow. */
export function providerWebhookUrl(publicBaseUrl: string, workflowId: string): string {
  return `${publicBaseUrl}${PATH}?workflow_id=${encodeURIComponent(workflowId)}`;
}

/** The same URL naming one run of the workflow. */
export function forWorkflowRun(webhookUrl: string, runId: string): string {
  const url = new URL(webhookUrl);
  url.searchParams.set('run_id', runId);
  return url.toString();
}

const query = z.object({
  workflow_id: z.string().regex(/^[a-z-]+-[0-9a-f-]{36}$/).optional(),
  run_id: z.uuid().optional(),
});

/**
 * The workflow (and run) a webhook's query names. A query we did not make names nothing: the
 * handler then finds the workflow by the prediction id, if any row recorded it.
 */
export function workflowOfWebhook(rawQuery: unknown): { workflowId?: string; runId?: string } {
  const parsed = query.safeParse(rawQuery);
  if (!parsed.success || !parsed.data.workflow_id) return {};
  return { workflowId: parsed.data.workflow_id, runId: parsed.data.run_id };
}
