import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import supertest from 'supertest';
import { createActivities, type Activities } from '../../activities';
import { loadConfig, type Config } from '../../src/config';
import { createApp } from '../../src/http/app';
import { createLogger } from '../../src/logger';
import { LOCAL_TRAINER_MODEL } from '../../tools/dev/local-defaults';
import { installLocalDevHooks } from '../../tools/dev/local-dev-hooks';
import { startLocalReplicate, type LocalReplicate, type Knobs } from '../../tools/replicate-local/server';
import { signStripeEvent } from '../../tools/dev/stripe-test-events';
import { createDependencies, type Dependencies } from '../../src/dependencies';
import { createWorkers } from '../../src/worker';
import { databaseUrlFor, readStackInfo, type StackInfo } from '../../tools/dev/stack-info';

export const TEST_STRIPE_WEBHOOK_SECRET = 'whsec_test_secret_for_signed_events';

let runtimeInstalled = false;
function quietTemporalLogs(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}

export interface TestUser {
  id: string;
  email: string;
  apiKey: string;
  auth: { Authorization: string };
}

export interface TestEnv {
  config: Config;
  runtime: Dependencies;
  db: Dependencies['db'];
  temporal: TemporalClient;
  replicate: LocalReplicate;
  /** Every SQL statement the API and worker sent, in order (tests count them). */
  queries: string[];
  baseUrl: string;
  api: ReturnType<typeof supertest>;
  createUser(email?: string): Promise<TestUser>;
  /** Posts a Stripe event to the Stripe webhook, signed with the test secret as Stripe signs it. */
  deliverStripeEvent(event: object): supertest.Test;
  /** Polls GET /status until the job reaches a final status. */
  waitForJob(user: TestUser, jobId: string, timeoutMs?: number): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

export interface TestEnvOptions {
  knobs?: Partial<Knobs>;
  env?: Record<string, string>;
  /** Replace single activities to inject a fault; a function receives the real ones to wrap. */
  activities?: Partial<Activities> | ((real: Activities) => Partial<Activities>);
  /** Start workers (default true). */
  worker?: boolean;
  /** The test file already called Runtime.install (e.g. installWorkerTelemetry): do not install the quiet one. */
  runtimeInstalled?: boolean;
}

/**
 * A complete, isolated service for one test file: its own database (cloned from the
 * migrated template), its own task queue on the shared Temporal server, its own local
 * Replicate server, the real worker and the real API on a loopback port, with the development
 * hooks `npm start` installs (the local provider's input knobs, the console's test checkout).
 */
export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  if (!opts.runtimeInstalled) quietTemporalLogs();
  installLocalDevHooks();
  const stack = readStackInfo();
  const databaseUrl = await cloneDatabase(stack.databaseUrl, stack.templateDatabase);
  const replicate = await startLocalReplicate({ knobs: { latency_ms: 50, ...opts.knobs } });

  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  const config = loadConfig({
    ...serviceEnv(stack, { port, databaseUrl, replicateApiBaseUrl: replicate.apiBaseUrl }),
    ...opts.env,
  });

  const queries: string[] = [];
  const runtime = createDependencies(config, { onQuery: (sql) => queries.push(sql) });
  const temporal = new TemporalClient({
    connection: await Connection.connect({ address: config.temporal.address }),
    namespace: config.temporal.namespace,
  });
  const logger = createLogger({ level: config.logLevel, name: 'test-api' });
  server.on('request', createApp({ config, logger, temporal, ...runtime }));

  let workerConnection: NativeConnection | undefined;
  let workerRun: Promise<void> | undefined;
  let workers: Awaited<ReturnType<typeof createWorkers>> | undefined;
  if (opts.worker !== false) {
    workerConnection = await NativeConnection.connect({ address: config.temporal.address });
    workers = await createWorkers({
      config,
      runtime,
      connection: workerConnection,
      workflowBundlePath: stack.workflowBundlePath,
      activities: typeof opts.activities === 'function' ? opts.activities(createActivities(runtime)) : opts.activities,
    });
    workerRun = workers.run();
  }

  const api = supertest(baseUrl);
  const env: TestEnv = {
    config,
    runtime,
    db: runtime.db,
    temporal,
    replicate,
    queries,
    baseUrl,
    api,
    async createUser(email = `user-${randomUUID().slice(0, 8)}@example.com`) {
      const res = await api.post('/api/v1/users').send({ email }).expect(201);
      return { id: res.body.id, email, apiKey: res.body.api_key, auth: { Authorization: `Bearer ${res.body.api_key}` } };
    },
    deliverStripeEvent(event) {
      const { payload, header } = signStripeEvent(event, TEST_STRIPE_WEBHOOK_SECRET);
      return api.post('/api/v1/webhooks/stripe').set({ 'Content-Type': 'application/json', 'Stripe-Signature': header }).send(payload);
    },
    async waitForJob(user, jobId, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await api.get(`/api/v1/status/${jobId}`).set(user.auth).expect(200);
        if (['succeeded', 'failed', 'canceled', 'aborted'].includes(res.body.status)) return res.body;
        if (Date.now() > deadline) throw new Error(`job ${jobId} still ${res.body.status} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      await workers?.shutdown();
      await workerRun;
      await workerConnection?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await temporal.connection.close();
      await runtime.close();
      await replicate.close();
      await dropDatabase(stack.databaseUrl, new URL(databaseUrl).pathname.slice(1));
    },
  };
  return env;
}

/**
 * The environment of a service (API and worker) on this stack, as the tests run it: every key
 * loadConfig needs. `npm run bench` starts src/server.ts and src/worker.ts with it as child processes.
 */
export function serviceEnv(
  stack: StackInfo,
  s: { port: number; databaseUrl: string; replicateApiBaseUrl: string; taskQueue?: string },
): Record<string, string> {
  return {
    NODE_ENV: 'test',
    // The development-only routes (the console's test checkout) are part of what the tests drive.
    DEV_ROUTES: 'true',
    // Webhook receivers in tests listen on loopback; the address guard is on everywhere else.
    WEBHOOK_ALLOW_LOOPBACK: 'true',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: String(s.port),
    PUBLIC_BASE_URL: `http://127.0.0.1:${s.port}`,
    API_KEY_PEPPER: 'test-pepper-0123456789',
    DATABASE_URL: s.databaseUrl,
    DATABASE_POOL_SIZE: '5',
    TEMPORAL_ADDRESS: stack.temporal.address,
    TEMPORAL_NAMESPACE: stack.temporal.namespace,
    TEMPORAL_TASK_QUEUE: s.taskQueue ?? `test-${randomUUID().slice(0, 8)}`,
    S3_ENDPOINT: stack.s3.endpoint,
    S3_REGION: stack.s3.region,
    S3_ACCESS_KEY_ID: stack.s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: stack.s3.secretAccessKey,
    S3_BUCKET: stack.s3.bucket,
    REPLICATE_API_TOKEN: 'r8_test',
    REPLICATE_BASE_URL: s.replicateApiBaseUrl,
    REPLICATE_CREATE_RATE_PER_SECOND: '1000',
    REPLICATE_CALL_RATE_PER_SECOND: '1000',
    STRIPE_SECRET_KEY: 'sk_test_123',
    STRIPE_WEBHOOK_SECRET: TEST_STRIPE_WEBHOOK_SECRET,
    STRIPE_API_BASE: `${stack.stripe.protocol}://${stack.stripe.host}:${stack.stripe.port}`,
    TRAINER_MODEL: LOCAL_TRAINER_MODEL,
    TRAINING_DESTINATION_OWNER: 'imagegen-test',
    JOB_POLL_INTERVAL_MS: '2000',
    JOB_TIMEOUT_MS: '60000',
    // Tests and benchmarks poll hard and run several workers side by side: no request limits
    // (test/ops/http-hardening.test.ts sets its own) and no fixed worker metrics ports.
    RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '0',
    RATE_LIMIT_PER_ADDRESS_PER_MINUTE: '0',
    RATE_LIMIT_WEBHOOK_FAILURES_PER_ADDRESS_PER_MINUTE: '0',
    WEBHOOK_TEST_PER_MINUTE: '0',
    WORKER_METRICS_PORT: '0',
    WORKER_APP_METRICS_PORT: '0',
    // Most suites and bench rows upload generated shapes, not faces: the training upload's face
    // checks are on where a test asks for them (test/api/photo-inspection.test.ts); POST
    // /photos/inspect inspects faces whatever this says.
    FACE_CHECK_TRAINING: 'off',
  };
}

export async function cloneDatabase(serverUrl: string, template: string): Promise<string> {
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await withAdmin(serverUrl, (c) => c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`));
  return databaseUrlFor(serverUrl, name);
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

async function withAdmin<T>(serverUrl: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = new PgClient({ connectionString: serverUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
