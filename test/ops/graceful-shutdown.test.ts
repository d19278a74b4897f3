import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { findFreePorts } from '../../tools/dev/ports';
import { REPO_ROOT } from '../../tools/dev/paths';
import { createWorkers } from '../../src/worker';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { readStackInfo } from '../../tools/dev/stack-info';
import { serviceEnv, startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { names, parseMetrics } from './prom';

/**
 * The worker process as production runs it (src/worker.ts main(), its own process), stopped with
 * SIGTERM while an activity is in flight: it stops polling, lets the activity finish, reports it,
 * and exits 0; another worker then carries the workflow on.
 */
const MODEL = 'black-forest-labs/flux-schnell';
const CREATE_DELAY_MS = 3000;
let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ worker: false, knobs: { latency_ms: 50 } });
  user = await fundedUser(env);
});
afterAll(() => env?.stop());

/** In front of the local Replicate: holds every prediction create for CREATE_DELAY_MS. */
async function slowProvider(target: string) {
  let createArrived!: () => void;
  const arrived = new Promise<void>((r) => (createArrived = r));
  let answeredAt = 0;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const isCreate = req.method === 'POST' && /\/predictions$/.test(req.url ?? '');
    if (isCreate) {
      createArrived();
      await new Promise((r) => setTimeout(r, CREATE_DELAY_MS));
    }
    try {
      const upstream = await fetch(new URL(req.url ?? '/', target), {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => ['authorization', 'content-type', 'prefer'].includes(k))) as Record<string, string>,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await upstream.arrayBuffer());
      if (isCreate) answeredAt = Date.now();
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
    } catch (err) {
      res.writeHead(502).end(String(err));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = new URL(target);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${base.pathname}`.replace(/\/$/, ''),
    arrived,
    answeredAt: () => answeredAt,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('worker graceful shutdown', () => {
  it('when the worker gets SIGTERM during an activity, then the activity completes, the process exits 0, and another worker finishes the job', async () => {
    const provider = await slowProvider(env.replicate.apiBaseUrl.replace(/\/$/, ''));
    const stack = readStackInfo();
    const [sdkPort, appPort] = (await findFreePorts(2)) as [number, number];
    const childEnv = {
      ...process.env,
      ...serviceEnv(stack, {
        port: Number(new URL(env.baseUrl).port),
        databaseUrl: env.config.database.url,
        replicateApiBaseUrl: provider.url,
        taskQueue: env.config.temporal.taskQueue,
      }),
      LOG_LEVEL: 'info',
      WORKFLOW_BUNDLE_PATH: stack.workflowBundlePath,
      WORKER_METRICS_HOST: '127.0.0.1',
      WORKER_METRICS_PORT: String(sdkPort),
      WORKER_APP_METRICS_PORT: String(appPort),
      WORKER_SHUTDOWN_GRACE_MS: '20000',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], { cwd: REPO_ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const exit = exited(child);
    const logs: Array<Record<string, unknown>> = [];
    let stderr = '';
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) if (line.trim()) logs.push(JSON.parse(line));
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));

    try {
      await eventually(async () => logs.some((l) => l.msg === 'worker started') || (child.exitCode !== null && Promise.reject(new Error(`worker exited: ${stderr}`))), 30_000, 50);

      const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'drain me', num_outputs: 1 }).expect(202);
      const workflowId = `job-${res.body.job_id}`;
      await provider.arrived; // createPrediction is now in flight in the child worker

      // Both metrics endpoints of the real process answer.
      const sdk = parseMetrics(await (await fetch(`http://127.0.0.1:${sdkPort}/metrics`)).text());
      expect([...names(sdk)].some((n) => n.startsWith('temporal_'))).toBe(true);
      const appText = await (await fetch(`http://127.0.0.1:${appPort}/metrics`)).text();
      expect(appText).toContain('# TYPE imagegen_activity_executions_total counter');
      expect(appText).toContain('# TYPE imagegen_jobs_finished_total counter');
      expect(names(parseMetrics(appText)).has('process_cpu_seconds_total')).toBe(true);

      const sigtermAt = Date.now();
      child.kill('SIGTERM');
      const { code, signal } = await exit;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      // The provider answered after SIGTERM: the worker waited for the activity.
      expect(provider.answeredAt()).toBeGreaterThan(sigtermAt);
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['draining: no new tasks, finishing in-flight activities, then exiting', 'worker stopped']));

      // Temporal recorded the activity as completed on its first attempt: nothing to retry.
      const history = await env.temporal.workflow.getHandle(workflowId).fetchHistory();
      const scheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createPrediction');
      const completed = history.events!.find((e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
      const failed = history.events!.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes?.failure?.message;
      expect({ completed: completed !== undefined, failed }).toEqual({ completed: true, failed: undefined });
      expect(history.events!.some((e) => e.activityTaskTimedOutEventAttributes || e.activityTaskFailedEventAttributes)).toBe(false);
      const started = history.events!.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
      expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(1);

      // Another worker carries the workflow on from where the first one stopped.
      const next = await createWorkers({ config: env.config, runtime: env.runtime, workflowBundlePath: stack.workflowBundlePath });
      const running = next.run();
      try {
        expect((await env.waitForJob(user, res.body.job_id)).status).toBe('succeeded');
      } finally {
        await next.shutdown();
        await running;
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await provider.close();
    }
  }, 90_000);
});
