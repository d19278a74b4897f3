import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { createDependencies, type Dependencies } from '../../src/dependencies';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { readStream } from './sse-reader';

/**
 * Live progress over Server-Sent Events, read from the events table: a stream opened on one API
 * process sees what the worker writes, ends after `completed`, and resumes with Last-Event-ID.
 */
const MODEL = 'black-forest-labs/flux-schnell';
let env: TestEnv;
let alice: TestUser;
let bob: TestUser;
let second: { baseUrl: string; runtime: Dependencies; server: http.Server };

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 1500 } });
  [alice, bob] = await Promise.all([fundedUser(env), fundedUser(env)]);
  // A second API process on the same database: it has no worker and hears nothing from it directly.
  const runtime = createDependencies(env.config);
  const server = http.createServer(createApp({ config: env.config, logger: createLogger({ level: 'silent', name: 'api-2' }), temporal: env.temporal, ...runtime }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  second = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, runtime, server };
});
afterAll(async () => {
  if (second) {
    second.server.closeAllConnections();
    await new Promise<void>((r) => second.server.close(() => r()));
    await second.runtime.close();
  }
  await env?.stop();
});

describe('job events over SSE', () => {
  it('when a stream is open on a second API process while the worker runs the job, then it sees running, each output and completed, in order, and ends', async () => {
    const submitted = await env.api.post('/api/v1/generate').set(alice.auth).send({ model: MODEL, prompt: 'a kite', num_outputs: 2 }).expect(202);
    const jobId = submitted.body.job_id;
    const stream = await readStream(second.baseUrl, `/api/v1/jobs/${jobId}/events`, alice);

    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    expect(stream.events.map((e) => e.event)).toEqual(['status', 'output', 'output', 'completed']);
    expect(stream.events[0]!.data).toEqual({ status: 'running' });
    expect(stream.events.slice(1, 3).map((e) => e.data.index).sort()).toEqual([0, 1]);
    expect(stream.events[3]!.data).toEqual({ status: 'succeeded', error: null });
    const ids = stream.events.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    // The stream was live: `running` came well before `completed` (the provider takes 1.5 s).
    expect(stream.events[3]!.at - stream.events[0]!.at).toBeGreaterThan(500);
    const job = await env.api.get(`/api/v1/status/${jobId}`).set(alice.auth).expect(200);
    expect(job.body.status).toBe('succeeded');
  }, 60_000);

  it('when a client resumes with Last-Event-ID, then it gets only the events after that one and the stream ends at completed', async () => {
    const submitted = await env.api.post('/api/v1/generate').set(alice.auth).send({ model: MODEL, prompt: 'a boat' }).expect(202);
    const jobId = submitted.body.job_id;
    const all = await readStream(env.baseUrl, `/api/v1/jobs/${jobId}/events`, alice);
    expect(all.events.map((e) => e.event)).toEqual(['status', 'output', 'completed']);

    const resumed = await readStream(second.baseUrl, `/api/v1/jobs/${jobId}/events`, alice, { 'Last-Event-ID': all.events[0]!.id });
    expect(resumed.events.map((e) => [e.id, e.event])).toEqual(all.events.slice(1).map((e) => [e.id, e.event]));
  }, 60_000);

  it("when another user asks for a job's events, then it is 404 and no stream opens", async () => {
    const submitted = await env.api.post('/api/v1/generate').set(alice.auth).send({ model: MODEL, prompt: 'a hat' }).expect(202);
    const res = await readStream(env.baseUrl, `/api/v1/jobs/${submitted.body.job_id}/events`, bob);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    const noSuchPrompt = await readStream(env.baseUrl, `/api/v1/prompts/${submitted.body.job_id}/events`, alice);
    expect(noSuchPrompt.status).toBe(404);
    await env.waitForJob(alice, submitted.body.job_id);
  }, 60_000);
});
