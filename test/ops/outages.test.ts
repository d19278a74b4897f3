/**
 * Real outages: the API, wired as src/server.ts wires it (createDependencies + createTemporalClient),
 * reaches Postgres, Temporal and MinIO through TCP proxies this test cuts (connections reset, new
 * ones refused) or silences (nothing goes through), then restores.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import supertest from 'supertest';
import { loadConfig, type Config } from '../../src/config';
import { createApp } from '../../src/http/app';
import { READY_CACHE_MS } from '../../src/http/routes/health';
import { createLogger } from '../../src/logger';
import { unavailableComponent } from '../../src/outages';
import { startLocalReplicate, type LocalReplicate } from '../../tools/replicate-local/server';
import { createDependencies, type Dependencies } from '../../src/dependencies';
import { createTemporalClient } from '../../src/temporal/client';
import { paidCredits } from '../helpers/factories';
import { readStackInfo } from '../../tools/dev/stack-info';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';
import { cloneDatabase, dropDatabase, serviceEnv } from '../helpers/test-env';
import { makePng } from '../fixtures/images';

jest.setTimeout(120_000);

/** An outage that refuses connections is answered in about a second; this bound allows for a loaded machine. */
const FAST_MS = 6_000;
const CONNECT_TIMEOUT_MS = 1_500;
const STATEMENT_TIMEOUT_MS = 2_000;

const stack = readStackInfo();
let proxies: { postgres: TcpProxy; temporal: TcpProxy; s3: TcpProxy };
let serverDatabaseUrl: string;
let config: Config;
let runtime: Dependencies;
let temporalClose: () => Promise<void>;
let replicate: LocalReplicate;
let server: http.Server;
let api: ReturnType<typeof supertest>;
let auth: { Authorization: string };
let jobId: string;

const hostPort = (address: string) => ({ host: '127.0.0.1', port: Number(address.split(':').pop()) });

beforeAll(async () => {
  serverDatabaseUrl = await cloneDatabase(stack.databaseUrl, stack.templateDatabase);
  proxies = {
    postgres: await startTcpProxy(hostPort(new URL(stack.databaseUrl).host)),
    temporal: await startTcpProxy(hostPort(stack.temporal.address)),
    s3: await startTcpProxy(hostPort(new URL(stack.s3.endpoint).host)),
  };
  const proxiedDatabaseUrl = new URL(serverDatabaseUrl);
  proxiedDatabaseUrl.port = String(proxies.postgres.port);
  replicate = await startLocalReplicate({ knobs: { latency_ms: 50 } });

  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  config = loadConfig({
    ...serviceEnv(stack, { port, databaseUrl: proxiedDatabaseUrl.toString(), replicateApiBaseUrl: replicate.apiBaseUrl }),
    TEMPORAL_ADDRESS: proxies.temporal.address,
    S3_ENDPOINT: `http://${proxies.s3.address}`,
    DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
    DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
  });
  runtime = createDependencies(config);
  const temporal = await createTemporalClient(config.temporal);
  temporalClose = () => temporal.connection.close();
  server.on('request', createApp({ config, logger: createLogger({ level: config.logLevel, name: 'outages-api' }), temporal, ...runtime }));
  api = supertest(`http://127.0.0.1:${port}`);

  const user = await api.post('/api/v1/users').send({ email: 'outages@example.com' }).expect(201);
  auth = { Authorization: `Bearer ${user.body.api_key}` };
  await paidCredits(runtime.db, user.body.id, 100);
  jobId = (await generate().expect(202)).body.job_id;
});

afterAll(async () => {
  await Promise.all(Object.values(proxies).map((p) => p.restore()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await temporalClose();
  await runtime.close();
  await replicate.close();
  await Promise.all(Object.values(proxies).map((p) => p.close()));
  await dropDatabase(stack.databaseUrl, new URL(serverDatabaseUrl).pathname.slice(1));
});

function generate() {
  return api.post('/api/v1/generate').set(auth).send({ model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse', num_outputs: 1 });
}

async function upload() {
  return api.post('/api/v1/uploads').set(auth).attach('file', await makePng({ width: 64, height: 64 }), 'in.png');
}

/** The answer and how long it took. */
async function timed(request: PromiseLike<supertest.Response>): Promise<{ res: supertest.Response; ms: number }> {
  const started = Date.now();
  const res = await request;
  return { res, ms: Date.now() - started };
}

function expectUnavailable({ res, ms }: { res: supertest.Response; ms: number }, component: string, withinMs: number): void {
  expect({ status: res.status, code: res.body.error?.code, component: res.body.error?.details?.component }).toEqual({
    status: 503,
    code: 'service_unavailable',
    component,
  });
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
  expect(ms).toBeLessThan(withinMs);
}

async function expectReadinessNames(component: string): Promise<void> {
  // A verdict is cached for READY_CACHE_MS: an outage shows once the window of the last one ends.
  const downIn = (r: supertest.Response) =>
    Object.entries((r.body.components ?? {}) as Record<string, { status: string }>)
      .filter(([, c]) => c.status === 'down')
      .map(([name]) => name);
  let { res, ms } = await timed(api.get('/health/ready'));
  for (const deadline = Date.now() + READY_CACHE_MS + 500; downIn(res).join() !== component && Date.now() < deadline; ) {
    await new Promise((r) => setTimeout(r, 250));
    ({ res, ms } = await timed(api.get('/health/ready')));
  }
  expect(res.status).toBe(503);
  const down = downIn(res);
  expect(down).toEqual([component]);
  expect(ms).toBeLessThan(2_000 + 1_500); // the 2 s check budget, and a loaded machine
}

/** Retries until the request answers `status` (the clients reconnect within a couple of seconds). */
async function eventually(request: () => PromiseLike<supertest.Response>, status: number, timeoutMs = 15_000): Promise<supertest.Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await request();
    if (res.status === status || Date.now() > deadline) {
      expect(res.status).toBe(status);
      return res;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('outages answer clearly', () => {
  test('when Postgres is cut, then status and generate answer 503 naming postgres at once, readiness names it, and both work once it is back', async () => {
    await proxies.postgres.cut();
    try {
      expectUnavailable(await timed(api.get(`/api/v1/status/${jobId}`).set(auth)), 'postgres', FAST_MS);
      expectUnavailable(await timed(generate()), 'postgres', FAST_MS);
      await expectReadinessNames('postgres');
    } finally {
      await proxies.postgres.restore();
    }
    await eventually(() => api.get(`/api/v1/status/${jobId}`).set(auth), 200);
    await eventually(() => generate(), 202);
    await eventually(() => api.get('/health/ready'), 200);
  });

  test('when Postgres goes silent, then requests answer 503 after the connect or statement deadline, never hang', async () => {
    proxies.postgres.hang();
    try {
      // a pooled connection waits for its answer up to the statement timeout plus the client's margin;
      // a new one gives up after the connect timeout
      const bound = STATEMENT_TIMEOUT_MS + 5_000 + FAST_MS;
      expectUnavailable(await timed(api.get(`/api/v1/status/${jobId}`).set(auth)), 'postgres', bound);
      expectUnavailable(await timed(api.get(`/api/v1/status/${jobId}`).set(auth)), 'postgres', bound);
      await expectReadinessNames('postgres');
    } finally {
      await proxies.postgres.restore();
    }
    await eventually(() => api.get(`/api/v1/status/${jobId}`).set(auth), 200);
  });

  test('when Temporal is cut, then generate answers 503 naming temporal within seconds, readiness names it, and generate works once it is back', async () => {
    await proxies.temporal.cut();
    try {
      expectUnavailable(await timed(generate()), 'temporal', FAST_MS);
      await expectReadinessNames('temporal');
      // reads need no Temporal
      await api.get(`/api/v1/status/${jobId}`).set(auth).expect(200);
    } finally {
      await proxies.temporal.restore();
    }
    await eventually(() => generate(), 202);
  });

  test('when S3 is cut, then an upload answers 503 naming s3, readiness names it, and uploads work once it is back', async () => {
    await proxies.s3.cut();
    try {
      expectUnavailable(await timed(upload()), 's3', FAST_MS);
      await expectReadinessNames('s3');
    } finally {
      await proxies.s3.restore();
    }
    await eventually(() => upload(), 201);
  });

  test('when a statement runs longer than the statement timeout, then Postgres cancels it and it counts as a database outage', async () => {
    const started = Date.now();
    const err = await runtime.db.$queryRaw`SELECT pg_sleep(30)`.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(STATEMENT_TIMEOUT_MS + FAST_MS);
    expect(String((err as Error | undefined)?.message)).toMatch(/57014|statement timeout/);
    expect(unavailableComponent(err)).toBe('postgres');
    // the connection it ran on is still good
    expect(await runtime.db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
  });

  test('when the server ends our session (admin shutdown, 57P01), then it counts as a database outage and the next query reconnects', async () => {
    const err = await runtime.db.$queryRaw`SELECT pg_terminate_backend(pg_backend_pid())`.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String((err as Error | undefined)?.message)).toMatch(/57P01/);
    expect(unavailableComponent(err)).toBe('postgres');
    expect(await runtime.db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
  });
});
