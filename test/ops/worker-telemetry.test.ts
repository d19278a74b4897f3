import pino from 'pino';
import { findFreePorts } from '../../tools/dev/ports';
import { metricsAccess } from '../../src/metrics/access';
import { startMetricsServer, type MetricsServer } from '../../src/metrics/server';
import { installWorkerTelemetry, temporalLogger } from '../../src/worker';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { names, parseMetrics, valueOf } from './prom';

/**
 * The worker's telemetry as src/worker.ts main() installs it: the Temporal Runtime logs through
 * pino and serves the SDK's Prometheus metrics on its own port. Runtime.install works once per
 * process, so this file installs it before startTestEnv (which then skips its quiet runtime).
 */
const MODEL = 'black-forest-labs/flux-schnell';
const logLines: Array<Record<string, unknown>> = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });
let sdkPort: number;
let env: TestEnv;
let user: TestUser;
let jobId: string;

beforeAll(async () => {
  [sdkPort] = (await findFreePorts(1)) as [number];
  installWorkerTelemetry({ logger, metrics: { host: '127.0.0.1', port: sdkPort } });
  env = await startTestEnv({ runtimeInstalled: true });
  user = await fundedUser(env);
  const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a telemetry test', num_outputs: 1 }).expect(202);
  jobId = res.body.job_id;
  expect((await env.waitForJob(user, jobId)).status).toBe('succeeded');
});
afterAll(() => env?.stop());

describe('worker telemetry', () => {
  it('when the worker has run a job, then the SDK metrics port serves temporal_* series for its task queue', async () => {
    await env.temporal.workflow.getHandle(`job-${jobId}`).result();
    const scrape = async () => {
      const res = await fetch(`http://127.0.0.1:${sdkPort}/metrics`);
      expect(res.status).toBe(200);
      return parseMetrics(await res.text());
    };
    // The workflow's last task is reported a moment after its result is recorded.
    const samples = await eventually(async () => {
      const s = await scrape();
      return valueOf(s, 'temporal_workflow_completed_total', { task_queue: env.config.temporal.taskQueue, workflow_type: 'generationJobV2' }) >= 1 && s;
    }, 5000);
    const temporal = [...names(samples)].filter((n) => n.startsWith('temporal_'));
    expect(temporal.length).toBeGreaterThan(10);
    const queue = { task_queue: env.config.temporal.taskQueue };
    // Prometheus naming (countersTotalSuffix, seconds with unit suffix): what the dashboards query.
    expect(valueOf(samples, 'temporal_workflow_task_execution_latency_seconds_count', { ...queue, workflow_type: 'generationJobV2' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'temporal_activity_execution_latency_seconds_count', { ...queue, activity_type: 'storeOutputs' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'temporal_activity_schedule_to_start_latency_seconds_count')).toBeGreaterThan(0);
    expect(valueOf(samples, 'temporal_activity_execution_latency_seconds_count', { task_queue: `${queue.task_queue}-replicate-create`, activity_type: 'createPrediction' })).toBe(1);
    expect(valueOf(samples, 'temporal_worker_task_slots_available', { ...queue, worker_type: 'ActivityWorker' })).toBeGreaterThan(0);
  });

  it('when an activity runs, then its SDK log lines are pino JSON naming the workflow and the activity', async () => {
    const completed = logLines.find((l) => l.msg === 'Activity completed' && l.activityType === 'createPrediction' && l.workflowId === `job-${jobId}`);
    expect(completed).toMatchObject({
      level: 20, // debug
      sdkComponent: 'worker',
      workflowType: 'generationJobV2',
      taskQueue: expect.stringContaining(env.config.temporal.taskQueue),
      attempt: 1,
      durationMs: expect.any(Number),
    });
  });

  it('when the SDK logs an error, then pino gets it as a serialized err', () => {
    const lines: Array<Record<string, any>> = [];
    const sink = temporalLogger(pino({ level: 'trace' }, { write: (l: string) => void lines.push(JSON.parse(l)) }));
    sink.warn('Activity failed', { error: new Error('boom'), activityType: 'copyOutput' });
    sink.log('TRACE', 'polling', { taskQueue: 'q' });
    // Expected by design (the provider queues have no workflows): not a warning.
    sink.warn('No workflows registered, not polling for workflow tasks', { taskQueue: 'q-replicate-create' });
    expect(lines[0]).toMatchObject({ level: 40, msg: 'Activity failed', activityType: 'copyOutput', err: { message: 'boom', stack: expect.any(String) } });
    expect(lines[1]).toMatchObject({ level: 10, msg: 'polling', taskQueue: 'q' });
    expect(lines[2]).toMatchObject({ level: 20, taskQueue: 'q-replicate-create' });
  });

  it('when the app metrics server runs, then GET /metrics serves activity and business series and other paths are 404', async () => {
    const server: MetricsServer = await startMetricsServer({ host: '127.0.0.1', port: 0, access: metricsAccess(env.config) });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      const samples = parseMetrics(await res.text());
      expect(valueOf(samples, 'imagegen_activity_executions_total', { activity_type: 'createPrediction', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
      expect(valueOf(samples, 'imagegen_jobs_finished_total', { kind: 'generation', outcome: 'succeeded' })).toBeGreaterThanOrEqual(1);
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

/** The worker's metrics server under the API's rule for /metrics (test/ops/probes.test.ts has the API's side). */
describe("the worker's app metrics server in production", () => {
  /** The server as worker.ts main() starts it, with this config's METRICS_TOKEN. */
  const withServer = async (token: string | undefined, fn: (url: string) => Promise<void>) => {
    const access = metricsAccess({ env: 'production', metrics: { ...env.config.metrics, token } });
    const server = await startMetricsServer({ host: '127.0.0.1', port: 0, access });
    try {
      await fn(`http://127.0.0.1:${server.port}/metrics`);
    } finally {
      await server.close();
    }
  };

  it('when no METRICS_TOKEN is set, then /metrics does not exist (404 not_found) and no series are given out', async () => {
    await withServer(undefined, async (url) => {
      const res = await fetch(url);
      expect(res.status).toBe(404);
      const text = await res.text();
      expect(JSON.parse(text).error.code).toBe('not_found');
      expect(text).not.toContain('imagegen_');
    });
  });

  it('when METRICS_TOKEN is set, then /metrics needs it as a bearer token, refused as the API refuses (401 unauthorized)', async () => {
    const token = 'metrics-token-0123456789';
    await withServer(token, async (url) => {
      for (const headers of [{} as Record<string, string>, { Authorization: 'Bearer wrong' }, { Authorization: token }, { Authorization: `Bearer ${token}x` }]) {
        const res = await fetch(url, { headers });
        const text = await res.text();
        expect({ headers, status: res.status, code: JSON.parse(text).error.code }).toEqual({ headers, status: 401, code: 'unauthorized' });
        expect(text).not.toContain('imagegen_');
      }
      const res = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(valueOf(parseMetrics(await res.text()), 'imagegen_activity_executions_total', { activity_type: 'createPrediction', outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    });
  });
});
