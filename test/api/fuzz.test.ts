import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Ajv, { type Format, type ValidateFunction } from 'ajv';
import fc from 'fast-check';
import sharp from 'sharp';
import { ErrorCode } from '../../src/error-codes';
import { webhookWorkflowId } from '../../src/events/types';
import { createWorkers } from '../../src/worker';
import { readStackInfo } from '../../tools/dev/stack-info';
import { startReceiver } from '../events/webhook-receiver';
import { fundedUser, paidCredits, paidPayment, trainedVersion } from '../helpers/factories';
import { describe as curl, operationsOf, requestFor, send, type FuzzRequest, type FuzzResponse, type Operation, type Pools, type Spec } from '../helpers/fuzz-requests';
import { eventually, sleep } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Property-based fuzzing of every operation in the service's own /openapi.json (a new route is
 * fuzzed without a change here). Most requests are junk, a quarter well-formed (the funded key,
 * the account's own resources seeded below, bodies the schemas or the service accepted, reused
 * Idempotency-Keys), so that success answers are checked too; every answer must be:
 *  - never a 5xx;
 *  - a status the operation documents, 4xx in the error shape with a code documented for it;
 *  - a body that matches the documented schema (no undocumented fields either);
 *  - and a rejected request changes nothing: no row anywhere, no workflow.
 *
 * The worker is off during the runs, so nothing changes the database behind the requests' backs:
 * the fingerprint of every table after a rejected request is the one from before it. (A worker
 * runs before them, only to finish the seeded work that needs one: a job with its output and
 * webhook deliveries, a batch, a prompt.) After the runs: every GET operation answered a 2xx
 * checked against its schema at least once, and a reused Idempotency-Key was refused.
 *
 * Seeds: a fixed one (the same requests every run) and a fresh one per run; a failure prints the
 * seed and the request as curl. Replay one: FUZZ_SEED=<seed> npx jest test/api/fuzz.test.ts.
 * FUZZ_RUNS sets the requests per seed (default 1000).
 */

const FIXED_SEED = 20261207;
const RUNS_PER_SEED = Number(process.env.FUZZ_RUNS ?? 1000);
const SEEDS = process.env.FUZZ_SEED ? [Number(process.env.FUZZ_SEED)] : [FIXED_SEED, Math.floor(Math.random() * 2 ** 31)];
/** A run this size takes about a minute here; the limit only stops a stuck run (then it fails). */
const RUN_TIME_LIMIT_MS = 240_000;

const MODEL = 'black-forest-labs/flux-schnell';

/**
 * GET operations exempt from "answered at least one checked 2xx", each with why. None: the
 * fixtures make every resource a GET reads (a job with an output, a batch, a payment, a credit
 * purchase, trained versions with prompts, a delivered webhook), and the run sends well-formed
 * requests for them. A GET added later whose resource the fixtures do not make fails the final
 * check until the fixtures make one (or it is listed here with its reason).
 */
const GET_WITHOUT_SUCCESS: string[] = [];

let env: TestEnv;
let doc: Spec;
let ops: Operation[];
let pools: Pools;
let funded: TestUser;
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  env = await startTestEnv({ worker: false });
  doc = JSON.parse((await env.api.get('/openapi.json').expect(200)).text);
  ops = operationsOf(doc);

  funded = await fundedUser(env, 1_000_000);
  const other = await fundedUser(env, 100);
  const spare = await env.api.post('/api/v1/keys').set(funded.auth).send({ name: 'to revoke' }).expect(201);
  await env.api.delete(`/api/v1/keys/${spare.body.id}`).set(funded.auth).expect(204);
  // A second working key the run may update, rotate or revoke; the id of the key the run sends is in no pool.
  const extraKey = await env.api.post('/api/v1/keys').set(funded.auth).send({ name: 'fuzz extra' }).expect(201);
  const finished = await seedFinishedWork(funded);
  const upload = await env.api.post('/api/v1/uploads').set(funded.auth).attach('file', await sharp({ create: { width: 64, height: 64, channels: 3, background: '#f80' } }).png().toBuffer(), { filename: 'in.png', contentType: 'image/png' }).expect(201);

  // Real resources of both accounts, so that path ids often name something (or something of someone else's).
  const ids: string[] = [spare.body.id, extraKey.body.id, finished.jobId, finished.batchId, finished.promptId, finished.versionId];
  const jobBodies = [{ model: MODEL, prompt: 'a lighthouse' }, { model: MODEL, prompt: 'a kite', num_outputs: 2 }];
  const promptBodies = [{ prompt: 'TOK on the moon', num_outputs: 1 }, { prompt: 'TOK in the rain' }];
  const own: Record<string, string[]> = {};
  const ownAlso = (name: string, ...values: string[]) => (own[name] = [...(own[name] ?? []), ...values]);
  for (const user of [funded, other]) {
    const version = await trainedVersion(env.db, user.id);
    const payment = await paidPayment(env.db, user.id);
    const purchase = await paidCredits(env.db, user.id, 10);
    const job = await env.api.post('/api/v1/generate').set(user.auth).send(jobBodies[0]!).expect(202);
    const prompt = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send(promptBodies[0]!).expect(202);
    const idleVersion = await trainedVersion(env.db, user.id);
    ids.push(version.id, idleVersion.id, payment.id, purchase.id, job.body.job_id, prompt.body.prompt_id);
    if (user !== funded) continue;
    ownAlso('job_id', job.body.job_id);
    ownAlso('version_id', version.id, idleVersion.id);
    ownAlso('payment_id', payment.id);
    ownAlso('purchase_id', purchase.id);
    ownAlso('prompt_id', prompt.body.prompt_id);
  }
  const keys = await env.api.get('/api/v1/keys').set(other.auth).expect(200);
  ids.push(keys.body.items[0].id);
  // The funded account's own values by parameter name, for well-formed requests: its queued and its
  // finished resources, the output index that exists, the resources whose deliveries can be listed.
  ownAlso('job_id', finished.jobId, finished.batchJobId);
  ownAlso('version_id', finished.versionId);
  ownAlso('prompt_id', finished.promptId);
  ownAlso('batch_id', finished.batchId);
  ownAlso('key_id', extraKey.body.id);
  ownAlso('delivery_id', finished.deliveryId);
  ownAlso('index', '0');
  ownAlso('resource', `job:${finished.jobId}`, `batch:${finished.batchId}`, `prompt:${finished.promptId}`, `version:${finished.versionId}`);
  // GET /download is offered the one job whose output stays, and DELETE /jobs/{id}/outputs every
  // other: once deleted, no download could succeed.
  own['downloadJobOutput.job_id'] = [finished.jobId];
  own['deleteJobOutputs.job_id'] = own.job_id!.filter((id) => id !== finished.jobId);

  pools = {
    keys: { funded: funded.apiKey, other: other.apiKey, revoked: spare.body.api_key },
    ids,
    idempotencyKeys: ['fuzz-key-1', 'fuzz-key-2', randomUUID()],
    image: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#08f' } }).png().toBuffer(),
    jsonBodyLimitBytes: parseBytes(env.config.http.jsonBodyLimit),
    knownStrings: await stringsTheServiceAnswers(),
    // What the fixtures above sent and had accepted (or would be); the fuzzer reuses them with its Idempotency-Keys.
    acceptedBodies: {
      submitJob: [...jobBodies, { model: 'stability-ai/stable-diffusion-img2img', prompt: 'as a watercolour', input_file: upload.body.upload_id }],
      createPrompt: promptBodies,
      quote: jobBodies.map((b) => ({ kind: 'job', ...b })),
      createApiKey: [{ name: spare.body.name }],
      createBatch: [finished.batchBody, { jobs: jobBodies }],
      createPayment: [{ plan_id: 'starter' }],
      buyCredits: [{ pack_id: 'credits-100' }],
      reenableWebhookEndpoint: [{ url: finished.webhook }],
      updateApiKey: [{ monthly_credit_budget: 5000 }, { monthly_credit_budget: null }],
    },
    ownValues: own,
    acceptedIdempotencyKeys: finished.idempotent,
  };
  fingerprintSql = await buildFingerprintSql();
}, 120_000);

/**
 * Work of the funded account that only a worker finishes: a job with a webhook (its output in the
 * bucket, its deliveries answered by a receiver), a one-job batch and a prompt, the job and the batch
 * sent with Idempotency-Keys the run reuses. The worker stops before the runs, as it is in them.
 */
async function seedFinishedWork(user: TestUser) {
  const receiver = await startReceiver();
  const version = await trainedVersion(env.db, user.id);
  const workers = await createWorkers({ config: env.config, runtime: env.runtime, workflowBundlePath: readStackInfo().workflowBundlePath });
  const running = workers.run();
  try {
    const webhook = receiver.url('/fuzz');
    const jobBody = { model: MODEL, prompt: 'a harbour at dawn', webhook };
    const batchBody = { jobs: [{ model: MODEL, prompt: 'a red kite' }] };
    const [job, batch, prompt] = await Promise.all([
      env.api.post('/api/v1/generate').set(user.auth).set('Idempotency-Key', 'fuzz-accepted-job').send(jobBody).expect(202),
      env.api.post('/api/v1/batches').set(user.auth).set('Idempotency-Key', 'fuzz-accepted-batch').send(batchBody).expect(202),
      env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'TOK by the sea', num_outputs: 1 }).expect(202),
    ]);
    const jobId: string = job.body.job_id;
    const batchId: string = batch.body.batch_id;
    const promptId: string = prompt.body.prompt_id;
    expect((await env.waitForJob(user, jobId)).status).toBe('succeeded');
    const batchJobId = await eventually(async () => {
      const b = (await env.api.get(`/api/v1/batches/${batchId}`).set(user.auth).expect(200)).body;
      return b.status === 'completed' && (b.items[0].job_id as string);
    }, 30_000);
    await eventually(async () => (await env.api.get(`/api/v1/prompts/${promptId}`).set(user.auth).expect(200)).body.status === 'succeeded', 30_000);
    const delivered = await eventually(async () => (await env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed', statusCode: 200 } })) ?? undefined, 30_000);
    return {
      jobId,
      batchId,
      batchJobId,
      promptId,
      versionId: version.id,
      webhook,
      deliveryId: delivered.id.toString(),
      batchBody,
      idempotent: [
        { operationId: 'submitJob', key: 'fuzz-accepted-job', body: jobBody },
        { operationId: 'createBatch', key: 'fuzz-accepted-batch', body: batchBody },
      ],
    };
  } finally {
    await workers.shutdown();
    await running;
    await receiver.close();
  }
}

/** Short strings from the answers of every GET without parameters (the catalog, plans, packs…), asked with the funded key. */
async function stringsTheServiceAnswers(): Promise<string[]> {
  const found = new Set<string>();
  const collect = (v: unknown): void => {
    if (typeof v === 'string' && v.length > 0 && v.length <= 100 && !/^https?:/.test(v)) found.add(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  for (const op of ops.filter((o) => o.method === 'GET' && o.parameters.length === 0)) {
    const res = await env.api.get(op.template).set(funded.auth);
    if (res.status === 200 && res.type === 'application/json') collect(res.body);
  }
  return [...found].sort();
}

afterAll(async () => {
  agent.destroy();
  await env?.stop();
});

// ---------------------------------------------------------------------------------------------
// "A rejected request changes nothing": a fingerprint of every row of every table

let fingerprintSql = '';
/** Columns a request may touch without changing anything: when a key was last used. */
const VOLATILE_COLUMNS = new Set(['api_keys.last_used_at']);

async function buildFingerprintSql(): Promise<string> {
  const columns = await env.db.$queryRawUnsafe<Array<{ table_name: string; column_name: string }>>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = current_schema() AND table_name <> '_prisma_migrations'
        AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE')
      ORDER BY table_name, ordinal_position`,
  );
  const byTable = new Map<string, string[]>();
  for (const { table_name: t, column_name: c } of columns) {
    if (VOLATILE_COLUMNS.has(`${t}.${c}`)) continue;
    byTable.set(t, [...(byTable.get(t) ?? []), `"${c}"`]);
  }
  expect([...byTable.keys()]).toEqual(expect.arrayContaining(['jobs', 'credit_ledger', 'quota_ledger', 'prompts', 'payments', 'api_keys', 'users']));
  return [...byTable]
    .map(([t, cols]) => `SELECT '${t}' AS t, count(*)::int AS n, md5(coalesce(string_agg(r, ',' ORDER BY r), '')) AS h FROM (SELECT ROW(${cols.join(', ')})::text AS r FROM "${t}") x`)
    .join(' UNION ALL ');
}

async function fingerprint(): Promise<Map<string, string>> {
  const rows = await env.db.$queryRawUnsafe<Array<{ t: string; n: number; h: string }>>(fingerprintSql);
  return new Map(rows.map((r) => [r.t, `${r.n}:${r.h}`]));
}

function changedTables(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([t, f]) => before.get(t) !== f).map(([t]) => t);
}

// ---------------------------------------------------------------------------------------------
// "Every answer matches its documented schema"

const ajv = new Ajv({ strict: false, allErrors: true, logger: false, formats: formats() });
const validators = new Map<string, ValidateFunction>();

function formats(): Record<string, Format> {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  return {
    uuid: UUID,
    'date-time': (v: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(v) && !Number.isNaN(Date.parse(v)),
    email: /^[^\s@]+@[^\s@]+$/,
    uri: (v: string) => URL.canParse(v),
    url: (v: string) => URL.canParse(v),
    binary: true,
  };
}

/**
 * An OpenAPI 3.0 schema as JSON Schema (`nullable` becomes a null type), with every object closed:
 * an answer may not carry fields the document does not list.
 */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Spec = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, k === 'example' || k === 'enum' ? v : closed(v)]));
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  if (out.nullable === true) {
    if (typeof out.type === 'string') out.type = [out.type, 'null'];
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
  }
  delete out.nullable;
  // 3.0's boolean exclusiveMinimum/Maximum qualify minimum/maximum; JSON Schema's are numbers.
  for (const [exclusive, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (out[exclusive] === true) {
      out[exclusive] = out[bound];
      delete out[bound];
    } else if (out[exclusive] === false) delete out[exclusive];
  }
  return out;
}

function validatorFor(key: string, schema: Spec): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile({ ...(closed(schema) as Spec), components: closed(doc.components) });
    validators.set(key, validate);
  }
  return validate;
}

/** The error codes an error response documents: its description lists them as `error.code`: `a`, `b`. */
function documentedCodes(response: Spec): string[] {
  const list = /`error\.code`: (.*)$/s.exec(response.description ?? '')?.[1] ?? '';
  return [...list.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const seenCodes = new Map<string, Set<number>>();
const seenStatuses = new Map<string, Map<number, number>>();
/** 2xx answers whose status, content type and (JSON) body were checked against the document, by operationId. */
const checkedSuccesses = new Map<string, number>();
let requestsSent = 0;
let wellFormedSent = 0;

function problemsWith(op: Operation, res: FuzzResponse): string[] {
  const problems: string[] = [];
  if (res.status >= 500) problems.push(`answered ${res.status}`);
  const documented = op.responses[String(res.status)];
  if (!documented) return [...problems, `status ${res.status} is not documented for ${op.operationId} (documented: ${Object.keys(op.responses).join(', ')})`];

  const type = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
  const media: Record<string, Spec> = documented.content ?? {};
  if (Object.keys(media).length === 0) {
    if (res.body.length > 0) problems.push(`${res.status} is documented without a body, but one came (${type})`);
    return problems;
  }
  const range = Object.keys(media).find((r) => r === type || (r.endsWith('/*') && type.startsWith(r.slice(0, -1))));
  if (!range) return [...problems, `content type "${type}" is not documented for ${res.status} (${Object.keys(media).join(', ')})`];
  if (range !== 'application/json') return problems;

  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return [...problems, `${res.status} body is not JSON: ${res.body.toString('utf8', 0, 200)}`];
  }
  const validate = validatorFor(`${op.operationId} ${res.status}`, media[range]!.schema);
  if (!validate(body)) problems.push(`${res.status} body does not match its schema: ${ajv.errorsText(validate.errors)}`);
  if (res.status >= 400) {
    const code = (body as { error?: { code?: string } }).error?.code ?? '';
    const codes = documentedCodes(documented);
    if (!KNOWN_CODES.has(code)) problems.push(`error code "${code}" is not in src/error-codes.ts`);
    if (!codes.includes(code)) problems.push(`error code "${code}" is not documented for ${res.status} (documented: ${codes.join(', ')})`);
    seenCodes.set(code, (seenCodes.get(code) ?? new Set()).add(res.status));
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The property

async function fuzz(seed: number): Promise<void> {
  const byId = new Map(ops.map((op) => [op.operationId, op]));
  const anyRequest = fc.oneof(...ops.map((op) => requestFor(doc, op, pools)));
  let before = await fingerprint();
  const property = fc.asyncProperty(anyRequest, async (req: FuzzRequest) => {
    const op = byId.get(req.operationId)!;
    let res: FuzzResponse;
    try {
      res = await send(env.baseUrl, agent, req);
    } catch (err) {
      throw new Error(`no answer (${(err as Error).message})\n  ${curl(req)}`);
    }
    requestsSent++;
    if (req.wellFormed) wellFormedSent++;
    const statuses = seenStatuses.get(op.operationId) ?? new Map<number, number>();
    seenStatuses.set(op.operationId, statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1));
    const problems = problemsWith(op, res);
    const after = await fingerprint();
    if (res.status >= 400) {
      const changed = changedTables(before, after);
      if (changed.length) problems.push(`a rejected request changed ${changed.join(', ')}`);
    }
    before = after;
    if (res.status >= 200 && res.status < 300 && problems.length === 0) checkedSuccesses.set(op.operationId, (checkedSuccesses.get(op.operationId) ?? 0) + 1);
    if (problems.length) {
      throw new Error(`${op.method} ${op.template}: ${problems.join('; ')}\n  ${curl(req)}\n  → ${res.status} ${res.body.toString('utf8', 0, 300)}`);
    }
  });
  try {
    await fc.assert(property, { seed, numRuns: RUNS_PER_SEED, interruptAfterTimeLimit: RUN_TIME_LIMIT_MS, markInterruptAsFailure: true });
  } catch (err) {
    const cause = (err as Error).cause as Error | undefined;
    throw new Error(
      `Fuzz run failed with seed ${seed}; replay it with FUZZ_SEED=${seed} npx jest test/api/fuzz.test.ts\n${cause?.message ?? ''}\n\n${(err as Error).message}`,
    );
  }
}

describe('fuzzing every operation of /openapi.json', () => {
  it('when the document is read, then it has operations to fuzz, each with bodies and parameters the generator can build', () => {
    expect(ops.length).toBeGreaterThanOrEqual(30);
    for (const op of ops) fc.sample(requestFor(doc, op, pools), { numRuns: 3, seed: FIXED_SEED });
  });

  it.each(SEEDS.map((seed, i) => [i === 0 && !process.env.FUZZ_SEED ? 'fixed' : 'fresh', seed] as const))(
    'when %s seed %d drives the requests, then no answer is a 5xx or undocumented, and rejected ones change no row',
    async (_kind, seed) => {
      await fuzz(seed);
    },
    RUN_TIME_LIMIT_MS + 60_000,
  );

  it('when the runs are over, then every operation was requested, every GET answered a checked 2xx, a reused Idempotency-Key was refused, the workflows on the queue all belong to accepted work, and the README lists every code seen', async () => {
    const byOp = [...seenStatuses].map(([id, st]) => `  ${id}: ${[...st].sort(([a], [b]) => a - b).map(([code, n]) => `${code}×${n}`).join(' ')} (2xx checked: ${checkedSuccesses.get(id) ?? 0})`);
    process.stdout.write(`fuzz: answers by operation\n${byOp.join('\n')}\n`);
    process.stdout.write(`fuzz: ${requestsSent} requests (${wellFormedSent} well-formed), seeds ${SEEDS.join(', ')}; error codes seen: ${[...seenCodes].map(([c, s]) => `${c} (${[...s].join('/')})`).join(', ')}\n`);
    expect(requestsSent).toBeGreaterThanOrEqual(SEEDS.length * RUNS_PER_SEED);
    expect(ops.filter((op) => !seenStatuses.has(op.operationId)).map((op) => op.operationId)).toEqual([]);

    // Every GET of a resource the fixtures made (or of none) answered at least one 2xx that was
    // checked against its documented schema.
    const gets = ops.filter((op) => op.method === 'GET').map((op) => op.operationId);
    expect(gets.length).toBeGreaterThanOrEqual(20);
    expect(GET_WITHOUT_SUCCESS.filter((id) => !gets.includes(id))).toEqual([]);
    const unchecked = gets.filter((id) => !GET_WITHOUT_SUCCESS.includes(id) && !checkedSuccesses.get(id));
    expect({ getsWithoutACheckedSuccess: unchecked }).toEqual({ getsWithoutACheckedSuccess: [] });
    // A well-formed request reused an Idempotency-Key the service had accepted with another body.
    expect(seenCodes.get(ErrorCode.idempotencyKeyReused)).toBeDefined();

    // A workflow is started only for a row an accepted request made: job-<job>, prompt-<version with a prompt>, train-<payment of a version>,
    // and the webhook delivery of a batch with a webhook (one whose items were all refused completes at once).
    await sleep(1000); // visibility catches up
    const [jobs, prompts, versions, batches, deliveries] = await Promise.all([
      env.db.job.findMany({ select: { id: true, webhook: true } }),
      env.db.prompt.findMany({ select: { id: true, versionId: true, webhook: true } }),
      env.db.modelVersion.findMany({ select: { id: true, paymentId: true, webhook: true } }),
      env.db.batch.findMany({ where: { webhook: { not: null } }, select: { id: true } }),
      env.db.webhookDelivery.findMany({ select: { eventId: true } }),
    ]);
    // ...and the webhook deliveries of a resource with a webhook, and a redelivery of an event that was delivered.
    const withWebhook = (type: 'job' | 'prompt' | 'version', rows: Array<{ id: string; webhook: string | null }>) =>
      rows.filter((r) => r.webhook).map((r) => webhookWorkflowId({ resourceType: type, resourceId: r.id }));
    const expected = new Set([
      ...jobs.map((j) => `job-${j.id}`),
      ...prompts.map((p) => `prompt-${p.versionId}`),
      ...versions.map((v) => `train-${v.paymentId}`),
      ...batches.map((b) => webhookWorkflowId({ resourceType: 'batch', resourceId: b.id })),
      ...withWebhook('job', jobs),
      ...withWebhook('prompt', prompts),
      ...withWebhook('version', versions),
      ...deliveries.map((d) => `webhook-redeliver-${d.eventId}`),
    ]);
    const orphans: string[] = [];
    let workflows = 0;
    for await (const wf of env.temporal.workflow.list({ query: `TaskQueue = "${env.config.temporal.taskQueue}"` })) {
      workflows++;
      if (!expected.has(wf.workflowId)) orphans.push(wf.workflowId);
    }
    expect(workflows).toBeGreaterThanOrEqual(4); // the fixtures' jobs and prompts at least
    expect(orphans).toEqual([]);

    const readme = readFileSync(path.join(__dirname, '../../README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Error codes'));
    const missing = [...seenCodes.keys()].filter((code) => !new RegExp(`^\\|[^\\n]*\`${code}\``, 'm').test(table));
    expect({ seen: [...seenCodes.keys()].sort(), missingFromReadme: missing }).toEqual({ seen: expect.arrayContaining(['unauthorized', 'invalid_path', 'invalid_cursor', 'validation_failed']), missingFromReadme: [] });
  }, 60_000);
});

function parseBytes(limit: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)?$/i.exec(limit.trim());
  if (!m) return 100 * 1024;
  const unit = (m[2] ?? 'b').toLowerCase();
  return Math.ceil(Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1));
}
