import { collectProcessMetrics } from '../../src/metrics/registry';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { parseMetrics, valueOf, type Sample } from './prom';

/**
 * GET /metrics on the real app. The test env runs API and worker in one process (one registry),
 * so the worker-side counters show here too; in production they are on the worker's port.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let alice: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
  alice = await fundedUser(env);
});
afterAll(() => env?.stop());

async function scrape(): Promise<Sample[]> {
  const res = await env.api.get('/metrics').expect(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseMetrics(res.text);
}

function submit(body: object) {
  return env.api.post('/api/v1/generate').set(alice.auth).send({ model: MODEL, ...body });
}

describe('GET /metrics', () => {
  it('when a job succeeds, then it counts as started and succeeded, its outputs as stored, and its requests by route pattern', async () => {
    const before = await scrape();
    const res = await submit({ prompt: 'a metrics test', num_outputs: 2 }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job.status).toBe('succeeded');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);

    expect(delta('imagegen_jobs_started_total', { kind: 'generation' })).toBe(1);
    expect(delta('imagegen_jobs_finished_total', { kind: 'generation', outcome: 'succeeded' })).toBe(1);
    expect(delta('imagegen_outputs_stored_total', { kind: 'generation' })).toBe(2);
    expect(delta('imagegen_output_bytes_stored_total', { kind: 'generation' })).toBe(job.outputs.reduce((n: number, o: { size_bytes: number }) => n + o.size_bytes, 0));
    expect(delta('imagegen_activity_executions_total', { activity_type: 'createPrediction', outcome: 'completed' })).toBe(1);
    // Both outputs are copied and recorded by one step.
    expect(delta('imagegen_activity_executions_total', { activity_type: 'storeOutputs', outcome: 'completed' })).toBe(1);
    expect(delta('imagegen_activity_executions_total', { activity_type: 'copyOutput', outcome: 'completed' })).toBe(0);

    // Route patterns, never raw ids.
    expect(delta('imagegen_http_requests_total', { method: 'POST', route: '/api/v1/generate', status_code: '202' })).toBe(1);
    expect(delta('imagegen_http_requests_total', { method: 'GET', route: '/api/v1/status/:job_id', status_code: '200' })).toBeGreaterThanOrEqual(1);
    expect(delta('imagegen_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1/generate', status_class: '2xx' })).toBe(1);
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes(res.body.job_id)))).toBe(false);
  });

  it('when the model fails, then the job counts as failed', async () => {
    const before = await scrape();
    const res = await submit({ prompt: 'x', parameters: { fake_error: 'CUDA out of memory' } }).expect(202);
    expect((await env.waitForJob(alice, res.body.job_id)).status).toBe('failed');
    const after = await scrape();
    expect(valueOf(after, 'imagegen_jobs_finished_total', { kind: 'generation', outcome: 'failed' }) - valueOf(before, 'imagegen_jobs_finished_total', { kind: 'generation', outcome: 'failed' })).toBe(1);
  });

  it('when a job is canceled, then it counts as canceled', async () => {
    const before = await scrape();
    const res = await submit({ prompt: 'x', parameters: { fake_latency_ms: 20_000 } }).expect(202);
    await env.api.delete(`/api/v1/jobs/${res.body.job_id}`).set(alice.auth).expect(202);
    expect((await env.waitForJob(alice, res.body.job_id)).status).toBe('canceled');
    const after = await scrape();
    const name = 'imagegen_jobs_finished_total';
    expect(valueOf(after, name, { kind: 'generation', outcome: 'canceled' }) - valueOf(before, name, { kind: 'generation', outcome: 'canceled' })).toBe(1);
  });

  it('when requests fail, then errors count by route pattern and error code, and unknown paths share one "unmatched" route', async () => {
    const before = await scrape();
    await env.api.get('/api/v1/status/00000000-0000-4000-8000-000000000000').set(alice.auth).expect(404);
    await env.api.get('/api/v1/jobs').expect(401);
    await env.api.get(`/no/such/path/${Date.now()}`).expect(404);
    const after = await scrape();
    const delta = (labels: Record<string, string>) =>
      valueOf(after, 'imagegen_http_request_errors_total', labels) - valueOf(before, 'imagegen_http_request_errors_total', labels);

    expect(delta({ method: 'GET', route: '/api/v1/status/:job_id', status_code: '404', code: 'not_found' })).toBe(1);
    // Authentication runs before the route is matched.
    expect(delta({ method: 'GET', route: 'unmatched', status_code: '401', code: 'unauthorized' })).toBe(1);
    expect(delta({ method: 'GET', route: 'unmatched', status_code: '404', code: 'not_found' })).toBe(1);
    expect(after.some((s) => s.labels.route?.startsWith('/no/such'))).toBe(false);
  });

  it('when process metrics are on (server.ts and worker.ts turn them on), then they are served too', async () => {
    collectProcessMetrics({ service: 'api' });
    const samples = await scrape();
    expect(samples.some((s) => s.name === 'nodejs_eventloop_lag_seconds' || s.name === 'process_cpu_seconds_total')).toBe(true);
  });
});
