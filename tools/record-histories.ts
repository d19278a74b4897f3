/**
 * Records the workflow event histories that test/replay/replay.test.ts replays against the
 * current workflow code, so a change that would break workflows already running in production
 * (a non-deterministic change) fails `npm test` before it is deployed.
 *
 *   npm run record-histories
 *
 * It starts the real local stack (as the tests do), runs each scenario below through the real
 * API and worker, and writes the finished workflow's history to test/histories/<release>/<name>.json, in
 * Temporal's JSON history format (`temporal workflow show --output json` writes the same, so a
 * history from production can be added next to them).
 *
 * Histories are kept per release: `npm run record-histories -- --release=<name>` (default: today's
 * date, UTC) records every scenario into test/histories/<name>/ (`--only=<name prefix>,…` only those), so the code of each release is
 * replayed by every later one. Run it for each release whose workflow code changed (a new
 * workflow, a new `patched()` id: the replay test fails until some history takes that path). It
 * writes only the histories missing from that release's folder and never touches an existing file. Record from the code that runs in production (a `git worktree` of the deployed
 * commit with the new scenario added), not from a tree whose workflow changes are in progress. Existing histories are never re-recorded because workflow code changed: they
 * stand for workflows started by the code of their time, and replaying them against the new code
 * is the whole point. A change that makes one fail goes behind `patched()` (README, "Changing
 * workflow code"). Only when a history's code path is gone from production for good (its
 * `deprecatePatch` removed) is its file deleted, in its own commit that says why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { REPO_ROOT } from './dev/paths';
import { generateWav } from './replicate-local/audio-media';
import { ensureReconcileSchedule } from '../src/temporal/schedules';
import { taskQueues } from '../src/temporal/names';
import { prepareStack } from './dev/prepared-stack';
import { fundedUser, paidPayment, photos, trainedVersion } from '../test/helpers/factories';
import { eventually } from '../test/helpers/http';
import { STACK_INFO_ENV } from './dev/stack-info';
import { startTestEnv, type TestEnv, type TestUser } from '../test/helpers/test-env';
import { startReceiver } from '../test/events/webhook-receiver';

const HISTORIES_DIR = path.join(REPO_ROOT, 'test/histories');

/** How long a provider prediction or training takes when a scenario needs it to be still running. */
const SLOW_MS = 30_000;
/** The local trainer's duration and the workflow's poll interval: the training is polled several times. */
const TRAINING_MS = 4_000;
const POLL_INTERVAL_MS = 500;

type History = temporal.api.history.v1.IHistory;

interface Scenario {
  /** The history's file name: <workflow>-<scenario>. */
  name: string;
  /** Drives the flow through the API; returns the id of the workflow whose history is recorded, once it is closed. */
  run(ctx: Context): Promise<string>;
  /** What the history must show for the recording to count (a scenario that went another way is not recorded). */
  check?(history: History): string | undefined;
}

interface Context {
  env: TestEnv;
  user: TestUser;
}

const FINAL = ['succeeded', 'failed', 'canceled'];

/**
 * Waits for a job's webhook delivery workflow to end. It starts just after the job's final commit,
 * so the job can read as succeeded a moment before the workflow exists.
 */
async function deliveriesDone(ctx: Context, jobId: string): Promise<void> {
  const handle = ctx.env.temporal.workflow.getHandle(`webhooks-job-${jobId}`);
  await eventually(() => handle.describe().then(() => true, () => false), 30_000, 100);
  await handle.result();
}

function expectStatus(what: string, actual: unknown, expected: string): void {
  if (actual !== expected) throw new Error(`${what} ended ${String(actual)}, expected ${expected}`);
}

function generate({ env, user }: Context, body: object): Promise<string> {
  return env.api.post('/api/v1/generate').set(user.auth).send(body).expect(202).then((res) => res.body.job_id as string);
}

async function waitForPrompt({ env, user }: Context, promptId: string): Promise<Record<string, any>> {
  return eventually(async () => {
    const res = await env.api.get(`/api/v1/prompts/${promptId}`).set(user.auth).expect(200);
    return FINAL.includes(res.body.status) ? res.body : undefined;
  }, 60_000, 100);
}

async function waitForVersion({ env, user }: Context, versionId: string, until = FINAL): Promise<Record<string, any>> {
  return eventually(async () => {
    const res = await env.api.get(`/api/v1/versions/info/${versionId}`).set(user.auth).expect(200);
    return until.includes(res.body.status) ? res.body : undefined;
  }, 60_000, 100);
}

/** Starts a training of 10 photos on a new paid payment; returns its workflow id and version id. */
async function startTraining(ctx: Context): Promise<{ workflowId: string; versionId: string }> {
  const payment = await paidPayment(ctx.env.db, ctx.user.id, 'starter');
  let req = ctx.env.api.post(`/api/v1/versions/train/${payment.id}`).set(ctx.user.auth).field('trigger_word', 'TOK');
  for (const [i, buf] of (await photos(10)).entries()) req = req.attach('images', buf, `photo-${i + 1}.jpg`);
  const res = await req.expect(202);
  return { workflowId: `train-${payment.id}`, versionId: res.body.version_id };
}

async function jobScenario(ctx: Context, body: object, expected: string): Promise<string> {
  const jobId = await generate(ctx, body);
  expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, expected);
  return `job-${jobId}`;
}

/** How many times the history scheduled `activityType`. */
function scheduled(history: History, activityType: string): number {
  return (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).length;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'generationJobV2-succeeded',
    run: (ctx) => jobScenario(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse at dusk', num_outputs: 2, seed: 42 }, 'succeeded'),
    // Both outputs stored: one copy each (before lean-generation-job), or one step for both.
    check: (h) => (scheduled(h, 'copyOutput') === 2 || scheduled(h, 'storeOutputs') === 1 ? undefined : 'expected 2 output copies'),
  },
  {
    // The job the efficiency goals are stated for (history events and actions per 1-output job).
    name: 'generationJobV2-one-output',
    run: (ctx) => jobScenario(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse at dawn', num_outputs: 1, seed: 7 }, 'succeeded'),
  },
  {
    name: 'generationJobV2-failed',
    run: (ctx) => jobScenario(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'doomed', parameters: { fake_error: 'CUDA out of memory' } }, 'failed'),
  },
  {
    name: 'generationJobV2-canceled',
    async run(ctx) {
      const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'slow', parameters: { fake_latency_ms: SLOW_MS } });
      await eventually(async () => (await ctx.env.db.job.findUnique({ where: { id: jobId } }))?.status === 'running');
      await ctx.env.api.delete(`/api/v1/jobs/${jobId}`).set(ctx.user.auth).expect(202);
      expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId)).status, 'canceled');
      return `job-${jobId}`;
    },
    check: (h) => (scheduled(h, 'cancelPrediction') === 1 ? undefined : 'expected the provider prediction to be canceled'),
  },
  {
    // A job with a deadline that passes while its prediction runs: canceled at the provider, credits released (patch job-deadline).
    name: 'generationJobV2-deadline',
    async run(ctx) {
      const res = await ctx.env.api
        .post('/api/v1/generate')
        .set(ctx.user.auth)
        .set('Cancel-After', '3s')
        .send({ model: 'black-forest-labs/flux-schnell', prompt: 'too slow', parameters: { fake_latency_ms: SLOW_MS } })
        .expect(202);
      const jobId = res.body.job_id as string;
      expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, 'canceled');
      return `job-${jobId}`;
    },
    check: (h) => (scheduled(h, 'endJobAtDeadline') === 1 && scheduled(h, 'cancelPrediction') === 1 ? undefined : 'expected the deadline to cancel the running prediction'),
  },
  {
    name: 'generationJobV2-input-file',
    async run(ctx) {
      const upload = await ctx.env.api.post('/api/v1/uploads').set(ctx.user.auth).attach('file', generateWav('a voice memo', 2), 'memo.wav').expect(201);
      return jobScenario(ctx, { model: 'resemble-ai/resemble-enhance', input_file: upload.body.upload_id }, 'succeeded');
    },
    check: (h) => (scheduled(h, 'presignUpload') === 1 ? undefined : 'expected the upload to be presigned'),
  },
  {
    name: 'trainModel-progress',
    async run(ctx) {
      const { workflowId, versionId } = await startTraining(ctx);
      expectStatus('the training', (await waitForVersion(ctx, versionId)).status, 'succeeded');
      return workflowId;
    },
    check: (h) => (scheduled(h, 'getTraining') >= 3 ? undefined : 'expected several progress polls'),
  },
  {
    // No API cancels a training; an operator does, from the Temporal UI (the same request as here).
    name: 'trainModel-canceled',
    async run(ctx) {
      const { workflowId, versionId } = await startTraining(ctx);
      await waitForVersion(ctx, versionId, ['training']);
      await ctx.env.temporal.workflow.getHandle(workflowId).cancel();
      expectStatus('the training', (await waitForVersion(ctx, versionId)).status, 'canceled');
      return workflowId;
    },
    check: (h) => (scheduled(h, 'cancelTraining') === 1 ? undefined : 'expected the provider training to be canceled'),
  },
  {
    name: 'generatePromptV2-succeeded',
    async run(ctx) {
      const version = await trainedVersion(ctx.env.db, ctx.user.id);
      const res = await ctx.env.api.post(`/api/v1/prompts/create/${version.id}`).set(ctx.user.auth).send({ prompt: 'TOK on a beach', num_outputs: 2 }).expect(202);
      expectStatus('the prompt', (await waitForPrompt(ctx, res.body.prompt_id)).status, 'succeeded');
      return `prompt-${version.id}`;
    },
  },
  {
    name: 'generatePromptV2-canceled',
    async run(ctx) {
      const version = await trainedVersion(ctx.env.db, ctx.user.id);
      const res = await ctx.env.api
        .post(`/api/v1/prompts/create/${version.id}`)
        .set(ctx.user.auth)
        .send({ prompt: 'slow', num_outputs: 2, parameters: { fake_latency_ms: SLOW_MS } })
        .expect(202);
      const promptId = res.body.prompt_id;
      await eventually(async () => (await ctx.env.db.prompt.findUnique({ where: { id: promptId } }))?.status === 'running');
      await ctx.env.api.delete(`/api/v1/prompts/${promptId}`).set(ctx.user.auth).expect(202);
      expectStatus('the prompt', (await waitForPrompt(ctx, promptId)).status, 'canceled');
      return `prompt-${version.id}`;
    },
  },
  {
    // A prompt whose deadline passes while its prediction runs: canceled at the provider, images released (patch prompt-deadline).
    name: 'generatePromptV2-deadline',
    async run(ctx) {
      const version = await trainedVersion(ctx.env.db, ctx.user.id);
      const res = await ctx.env.api
        .post(`/api/v1/prompts/create/${version.id}`)
        .set(ctx.user.auth)
        .set('Cancel-After', '3s')
        .send({ prompt: 'too slow', parameters: { fake_latency_ms: SLOW_MS } })
        .expect(202);
      expectStatus('the prompt', (await waitForPrompt(ctx, res.body.prompt_id)).status, 'canceled');
      return `prompt-${version.id}`;
    },
    check: (h) => (scheduled(h, 'endPromptAtDeadline') === 1 && scheduled(h, 'cancelPrediction') === 1 ? undefined : 'expected the deadline to cancel the running prediction'),
  },
  {
    // An operator terminated a running job; the schedule's run completes it from the provider.
    name: 'reconcile-repaired',
    async run(ctx) {
      const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'finish me', num_outputs: 2, parameters: { fake_latency_ms: 1_000 } });
      await eventually(async () => (await ctx.env.db.job.findUnique({ where: { id: jobId } }))?.status === 'running');
      await ctx.env.temporal.workflow.getHandle(`job-${jobId}`).terminate('operator: stuck');
      await eventually(async () => (await providerStatus(ctx.env, jobId)) === 'succeeded', 20_000, 100);
      const workflowId = await runReconciliation(ctx.env);
      expectStatus('the repaired job', (await ctx.env.waitForJob(ctx.user, jobId)).status, 'succeeded');
      return workflowId;
    },
    check: (h) => (scheduled(h, 'copyOutput') === 2 ? undefined : 'expected the terminated job to be completed from the provider'),
  },
  {
    // A job's webhook: the receiver fails its first answer, so the first event is retried; two outputs coalesce into one delivery.
    name: 'deliverWebhooksV2-retried',
    async run(ctx) {
      const receiver = await startReceiver();
      try {
        receiver.failFirst('/hook', 1);
        const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'a bell', num_outputs: 2, webhook: receiver.url('/hook') });
        expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, 'succeeded');
        await deliveriesDone(ctx, jobId);
        return `webhooks-job-${jobId}`;
      } finally {
        await receiver.close();
      }
    },
    check: (h) => (scheduled(h, 'deliverWebhook') === 3 ? undefined : 'expected start, one output and completed deliveries'),
  },
  {
    // A job's webhook whose filter leaves out completed: the workflow still ends once the job is final (patch webhooks-end-when-final).
    name: 'deliverWebhooksV2-filter-without-completed',
    async run(ctx) {
      const receiver = await startReceiver();
      try {
        const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'a drum', webhook: receiver.url('/start'), webhook_events_filter: ['start'] });
        expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, 'succeeded');
        await deliveriesDone(ctx, jobId);
        return `webhooks-job-${jobId}`;
      } finally {
        await receiver.close();
      }
    },
    check: (h) => (scheduled(h, 'deliverWebhook') === 1 ? undefined : 'expected the start delivery only'),
  },
  {
    // The expiry schedule's workflow over a job whose two outputs expired, one output per page: three pages.
    name: 'expireOutputs-deleted',
    async run(ctx) {
      const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'short-lived', num_outputs: 2, retention: 1 });
      expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, 'succeeded');
      await eventually(async () => (await ctx.env.db.jobOutput.count({ where: { jobId, expiresAt: { lt: new Date() } } })) === 2, 10_000, 100);
      const workflowId = `expire-outputs-record-${jobId}`;
      await ctx.env.temporal.workflow.execute('expireOutputs', {
        workflowId,
        taskQueue: taskQueues(ctx.env.config.temporal.taskQueue).main,
        args: [{ pageSize: 1, maxPages: 5 }],
      });
      return workflowId;
    },
    check: (h) => (scheduled(h, 'expireOutputsPage') === 3 ? undefined : 'expected two pages of one output and an empty one'),
  },
  {
    // A redelivery asked for through the API of a job's delivered `completed` event.
    name: 'redeliverWebhook-delivered',
    async run(ctx) {
      const receiver = await startReceiver();
      try {
        const jobId = await generate(ctx, { model: 'black-forest-labs/flux-schnell', prompt: 'a gong', webhook: receiver.url('/again'), webhook_events_filter: ['completed'] });
        expectStatus('the job', (await ctx.env.waitForJob(ctx.user, jobId, 60_000)).status, 'succeeded');
        await deliveriesDone(ctx, jobId);
        const delivery = await ctx.env.db.webhookDelivery.findFirstOrThrow({ where: { resourceId: jobId } });
        await ctx.env.api.post(`/api/v1/webhooks/deliveries/${delivery.id}/redeliver`).set(ctx.user.auth).expect(202);
        const workflowId = `webhook-redeliver-${delivery.eventId}`;
        await ctx.env.temporal.workflow.getHandle(workflowId).result();
        return workflowId;
      } finally {
        await receiver.close();
      }
    },
    check: (h) => (scheduled(h, 'deliverWebhook') === 1 ? undefined : 'expected one delivery attempt'),
  },
];

/** The status of the job's prediction at the (local) provider. */
async function providerStatus(env: TestEnv, jobId: string): Promise<string> {
  const row = await env.db.job.findUniqueOrThrow({ where: { id: jobId } });
  const res = await fetch(`${env.replicate.apiBaseUrl}/predictions/${row.providerPredictionId}`, { headers: { Authorization: 'Bearer local' } });
  return ((await res.json()) as { status: string }).status;
}

/** What an operator does in the Temporal UI: the reconcile schedule runs now. Returns its workflow's id once closed. */
async function runReconciliation(env: TestEnv): Promise<string> {
  const schedule = env.temporal.schedule.getHandle(await ensureReconcileSchedule(env.temporal, env.config));
  try {
    await schedule.trigger();
    const started = await eventually(async () => (await schedule.describe()).info.recentActions[0]?.action, 20_000, 100);
    await env.temporal.workflow.getHandle(started.workflow.workflowId, started.workflow.firstExecutionRunId).result();
    return started.workflow.workflowId;
  } finally {
    await schedule.delete();
  }
}

/** Waits for the workflow's latest run to close and returns its full history. */
async function closedHistory(env: TestEnv, workflowId: string): Promise<History> {
  const { runId } = await env.temporal.workflow.getHandle(workflowId).describe();
  const handle = env.temporal.workflow.getHandle(workflowId, runId);
  await handle.result().catch(() => undefined); // failed and canceled runs are histories too
  return handle.fetchHistory();
}

async function record(ctx: Context, scenario: Scenario, file: string): Promise<void> {
  const started = Date.now();
  const workflowId = await scenario.run(ctx);
  const history = await closedHistory(ctx.env, workflowId);
  const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;
  if (!scenario.name.startsWith(`${workflowType}-`)) throw new Error(`${scenario.name}: recorded a ${workflowType} workflow`);
  const problem = scenario.check?.(history);
  if (problem) throw new Error(`${scenario.name}: ${problem}; not recorded`);
  fs.writeFileSync(file, historyToJSON(history) + '\n');
  console.log(`recorded ${path.relative(REPO_ROOT, file)} (${history.events?.length} events, ${Date.now() - started} ms)`);
}

/** `--only=<prefix>[,<prefix>]`: record only the scenarios whose names start with one of these (e.g. a new workflow's). */
function onlyPrefixes(argv: string[]): string[] | null {
  const given = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  return given ? given.split(',').map((p) => p.trim()).filter(Boolean) : null;
}

/** `--release=<name>`: the folder under test/histories; default today's date (UTC). */
function releaseName(argv: string[]): string {
  const given = argv.find((a) => a.startsWith('--release='))?.slice('--release='.length);
  const name = given ?? new Date().toISOString().slice(0, 10);
  if (!/^[\w.-]+$/.test(name)) throw new Error(`--release must be a plain folder name, got ${JSON.stringify(name)}`);
  return name;
}

async function main(): Promise<void> {
  const dir = path.join(HISTORIES_DIR, releaseName(process.argv.slice(2)));
  const only = onlyPrefixes(process.argv.slice(2));
  const missing = SCENARIOS.filter((s) => !only || only.some((p) => s.name.startsWith(p)))
    .map((s) => ({ scenario: s, file: path.join(dir, `${s.name}.json`) }))
    .filter((m) => !fs.existsSync(m.file));
  if (missing.length === 0) {
    console.log(`every scenario already has its history in ${path.relative(REPO_ROOT, dir)}; nothing to record`);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const prepared = await prepareStack({ runId: `record-${process.pid}` });
  process.env[STACK_INFO_ENV] = prepared.infoFile;
  let env: TestEnv | undefined;
  try {
    env = await startTestEnv({
      knobs: { latency_ms: 50, training_latency_ms: TRAINING_MS },
      env: { JOB_POLL_INTERVAL_MS: String(POLL_INTERVAL_MS), RECONCILE_GRACE_MS: '1', RECONCILE_INTERVAL_MS: String(3_600_000) },
    });
    const ctx: Context = { env, user: await fundedUser(env) };
    for (const { scenario, file } of missing) await record(ctx, scenario, file);
  } finally {
    await env?.stop();
    await prepared.stack.stop();
    fs.rmSync(prepared.infoFile, { force: true });
    fs.rmSync(prepared.info.workflowBundlePath, { force: true });
  }
}

if (require.main === module) {
  // Exits with the outcome, as npm run bench does.
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err instanceof Error ? err.stack : err);
      process.exit(1);
    },
  );
}
