import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../src/config';
import { RESOURCE_EVENTS_APPLICATION_NAME } from '../../src/events/fanout';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { createDependencies } from '../../src/dependencies';
import supertest from 'supertest';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { openStream, readStream, type OpenedStream, type Sse } from './sse-reader';

/**
 * Event streams are bounded: a cap per API key (and per process), a lifetime that ends with a
 * `retry:` hint, an immediate end for a finished resource whatever Last-Event-ID says, the end
 * of a key's streams when it is revoked, and no polling: one listener per process hands new
 * events to its streams.
 */
const MODEL = 'black-forest-labs/flux-schnell';
const PER_KEY = 2;
let env: TestEnv;
let user: TestUser;
/** A second API process on the same database, at most 3 streams in all. */
let other: { baseUrl: string; server: http.Server };
/** A third API process whose streams live 1 s. */
let short: { baseUrl: string; server: http.Server };

async function serve(config: Config, name: string) {
  const server = http.createServer(createApp({ ...env.runtime, config, temporal: env.temporal, logger: createLogger({ level: 'silent', name }) }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function close(s: { server: http.Server } | undefined) {
  if (!s) return;
  s.server.closeAllConnections();
  await new Promise<void>((r) => s.server.close(() => r()));
}

beforeAll(async () => {
  env = await startTestEnv({ env: { SSE_MAX_STREAMS_PER_KEY: String(PER_KEY) } });
  user = await fundedUser(env);
  other = await serve({ ...env.config, sse: { ...env.config.sse, maxStreams: 3 } }, 'api-2');
  short = await serve({ ...env.config, sse: { ...env.config.sse, maxLifetimeMs: 1_000 } }, 'api-3');
});
afterAll(async () => {
  await close(other);
  await close(short);
  await env?.stop();
});

/** Another API key of the same account. */
async function newKey(name: string): Promise<TestUser & { keyId: string }> {
  const res = await env.api.post('/api/v1/keys').set(user.auth).send({ name }).expect(201);
  return { ...user, apiKey: res.body.api_key, auth: { Authorization: `Bearer ${res.body.api_key}` }, keyId: res.body.id };
}

/** A job that stays running for `ms` (the local provider's latency knob). */
async function slowJob(ms: number): Promise<string> {
  const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'slow', parameters: { fake_latency_ms: ms } }).expect(202);
  return res.body.job_id;
}

const cancel = (jobId: string) => env.api.delete(`/api/v1/jobs/${jobId}`).set(user.auth);
const eventsPath = (jobId: string) => `/api/v1/jobs/${jobId}/events`;

describe('bounded event streams', () => {
  it('when a key holds its cap of open streams, then one more is 429 too_many_streams with Retry-After, other keys still open theirs up to the process cap (503), and a closed stream frees its slot', async () => {
    const jobId = await slowJob(30_000);
    const [second, third] = [await newKey('second'), await newKey('third')];
    const opened: OpenedStream[] = [];
    try {
      for (let i = 0; i < PER_KEY; i++) opened.push(await openStream(other.baseUrl, eventsPath(jobId), user));
      expect(opened.map((s) => s.status)).toEqual([200, 200]);

      const refused = await openStream(other.baseUrl, eventsPath(jobId), user);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('too_many_streams');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);

      // The cap is the key's, not the account's; the process holds 3 in all.
      opened.push(await openStream(other.baseUrl, eventsPath(jobId), second));
      expect(opened[2]!.status).toBe(200);
      const full = await openStream(other.baseUrl, eventsPath(jobId), third);
      expect(full.status).toBe(503);
      expect(full.body.error.code).toBe('service_unavailable');
      // Another API process counts its own.
      const elsewhere = await openStream(env.baseUrl, eventsPath(jobId), user);
      expect(elsewhere.status).toBe(200);
      opened.push(elsewhere);

      // A client that goes away gives its slot back.
      opened[0]!.close();
      const again = await eventually(async () => {
        const s = await openStream(other.baseUrl, eventsPath(jobId), user);
        return s.status === 200 ? s : false;
      }, 10_000, 100);
      opened.push(again);
    } finally {
      for (const s of opened) s.close();
      await cancel(jobId);
    }
  }, 60_000);

  it("when a key is revoked, then every stream open with it ends at once on every API process, the account's other key keeps its stream, and the revoked key opens no more", async () => {
    const jobId = await slowJob(30_000);
    const doomed = await newKey('doomed');
    const onThis = await openStream(env.baseUrl, eventsPath(jobId), doomed);
    const onOther = await openStream(other.baseUrl, eventsPath(jobId), doomed);
    const kept = await openStream(env.baseUrl, eventsPath(jobId), user);
    try {
      expect([onThis.status, onOther.status, kept.status]).toEqual([200, 200, 200]);
      await env.api.delete(`/api/v1/keys/${doomed.keyId}`).set(user.auth).expect(204);

      // Both end while the job still runs: no `completed` came, they were ended.
      await onThis.ended;
      await onOther.ended;
      for (const s of [onThis, onOther]) expect(s.events.map((e) => e.event)).not.toContain('completed');
      const job = await env.api.get(`/api/v1/status/${jobId}`).set(user.auth).expect(200);
      expect(['queued', 'running']).toContain(job.body.status);
      expect(kept.done).toBe(false);

      const refused = await openStream(env.baseUrl, eventsPath(jobId), doomed);
      expect(refused.status).toBe(401);
    } finally {
      for (const s of [onThis, onOther, kept]) s.close();
      await cancel(jobId);
    }
  }, 60_000);

  it('when Last-Event-ID is at or past the completed event of a finished job, then the answer is 204 at once; before it, the events after it and the end', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'done' }).expect(202);
    const jobId = res.body.job_id;
    await env.waitForJob(user, jobId);
    const all = await readStream(env.baseUrl, eventsPath(jobId), user);
    expect(all.status).toBe(200);
    expect(all.events.map((e) => e.event)).toEqual(['status', 'output', 'completed']);
    const completedId = all.events.at(-1)!.id;

    for (const lastEventId of [completedId, String(BigInt(completedId) + 1000n)]) {
      const ended = await readStream(env.baseUrl, eventsPath(jobId), user, { 'Last-Event-ID': lastEventId }, 10_000);
      expect(ended.status).toBe(204);
      expect(ended.events).toEqual([]);
    }
    const rest = await readStream(env.baseUrl, eventsPath(jobId), user, { 'Last-Event-ID': all.events[0]!.id }, 10_000);
    expect(rest.status).toBe(200);
    expect(rest.events.map((e) => e.id)).toEqual(all.events.slice(1).map((e) => e.id));
  }, 60_000);

  it('when a stream reaches its lifetime, then it ends with a retry hint before the job finishes, and resuming with Last-Event-ID each time gives every event once, up to completed', async () => {
    const jobId = await slowJob(5_000);
    const first = await readStream(short.baseUrl, eventsPath(jobId), user, {}, 20_000);
    expect(first.status).toBe(200);
    expect(first.retry).toBe(env.config.sse.retryMs);
    expect(first.events.map((e) => e.event)).not.toContain('completed');

    const seen: Sse[] = [...first.events];
    let connections = 1;
    for (;;) {
      const last = seen.at(-1)?.id;
      const next = await readStream(short.baseUrl, eventsPath(jobId), user, last ? { 'Last-Event-ID': last } : {}, 20_000);
      connections++;
      seen.push(...next.events);
      if (next.status === 204 || seen.at(-1)?.event === 'completed') break;
      expect(next.retry).toBe(env.config.sse.retryMs);
      if (connections > 60) throw new Error('the job never completed');
    }
    const all = await readStream(env.baseUrl, eventsPath(jobId), user);
    expect(seen.map((e) => e.id)).toEqual(all.events.map((e) => e.id));
    expect(seen.at(-1)!.event).toBe('completed');
  }, 90_000);

  it('when a stream stays open for seconds while its job runs, then each new event reaches it from the listener and the events table is read a few times, not polled', async () => {
    const res = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'watched', num_outputs: 2, parameters: { fake_latency_ms: 4_000 } }).expect(202);
    const from = env.queries.length;
    const stream = await readStream(env.baseUrl, eventsPath(res.body.job_id), user);
    const reads = env.queries.slice(from).filter((q) => /^\s*SELECT/i.test(q) && q.includes('resource_events'));

    expect(stream.events.map((e) => e.event)).toEqual(['status', 'output', 'output', 'completed']);
    // The stream was open for the job's 4 s: a 250 ms poll would have read the table 16 times or more.
    // Here: the backlog once, at most once per event, once when the listener (re)connected.
    expect(reads.length).toBeLessThanOrEqual(stream.events.length + 2);
  }, 60_000);

  it('when the listening connection is lost while a stream is open, then the stream still gets every event, from the slow poll and the read when the listener is back', async () => {
    const jobId = await slowJob(3_000);
    const stream = await openStream(env.baseUrl, eventsPath(jobId), user, {}, 30_000);
    expect(stream.status).toBe(200);
    const database = new URL(env.config.database.url).pathname.slice(1);
    // The process's listener (opened by the first stream of this file) is cut.
    const terminated = await eventually(async () => {
      const rows = await env.db.$queryRawUnsafe<Array<{ ok: boolean }>>(
        'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1 AND datname = $2',
        RESOURCE_EVENTS_APPLICATION_NAME,
        database,
      );
      return rows.length > 0 && rows;
    }, 10_000, 50);
    expect(terminated.every((r) => r.ok)).toBe(true);
    await stream.ended;
    expect(stream.events.map((e) => e.event)).toEqual(['status', 'output', 'completed']);
  }, 60_000);

  it('when a caller waits for a job to finish, then it gets the completed event once it is written, and null when the wait runs out first', async () => {
    const jobId = await slowJob(2_000);
    const ref = { resourceType: 'job' as const, resourceId: jobId };
    expect(await env.runtime.eventFanout.waitForFinal(ref, 200)).toBeNull();
    const final = await env.runtime.eventFanout.waitForFinal(ref, 30_000);
    expect(final?.data).toEqual({ status: 'succeeded', error: null });
    // Already final: from the table, with no notification to wait for.
    expect((await env.runtime.eventFanout.waitForFinal(ref, 5_000))?.id).toBe(final!.id);
  }, 60_000);

  it('when a key is rotated with no grace period, then the streams of the old key end, as its expiry says', async () => {
    const jobId = await slowJob(30_000);
    const rotating = await newKey('rotating');
    const noGrace = await serve({ ...env.config, apiKeyRotationGraceSeconds: 0 }, 'api-no-grace');
    const stream = await openStream(env.baseUrl, eventsPath(jobId), rotating);
    try {
      expect(stream.status).toBe(200);
      await supertest(noGrace.baseUrl).post(`/api/v1/keys/${rotating.keyId}/rotate`).set(user.auth).expect(201);
      await stream.ended;
      expect(stream.events.map((e) => e.event)).not.toContain('completed');
    } finally {
      stream.close();
      await close(noGrace);
      await cancel(jobId);
    }
  }, 60_000);

  it('when the API process shuts down, then its open streams end with the retry hint, to be resumed elsewhere', async () => {
    const jobId = await slowJob(30_000);
    const runtime = createDependencies(env.config);
    const server = http.createServer(createApp({ ...runtime, config: env.config, temporal: env.temporal, logger: createLogger({ level: 'silent', name: 'api-stopping' }) }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const stream = await openStream(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, eventsPath(jobId), user);
    try {
      expect(stream.status).toBe(200);
      await runtime.eventFanout.close(); // what src/server.ts does on SIGTERM
      await stream.ended;
      expect(stream.retry).toBe(env.config.sse.retryMs);
    } finally {
      stream.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await runtime.close();
      await cancel(jobId);
    }
  }, 60_000);
});
