import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BUILTIN_MODELS, type Knobs } from '../../tools/replicate-local/server';
import {
  buildZip,
  clientValidates,
  download,
  portOf,
  serveFiles,
  settledPrediction,
  settledTraining,
  sha256,
  solidImage,
  startLocal,
  startWebhookReceiver,
  waitFor,
  type Local,
  type ReceivedRequest,
  type TestHttpServer,
} from './helpers';

const FLUX = 'black-forest-labs/flux-schnell';
const TRAINER = BUILTIN_MODELS.find((m) => m.kind === 'lora-trainer')!;
const [TRAINER_OWNER = '', TRAINER_NAME = ''] = TRAINER.ref.split('/');

let dataDir: string;
let running: Local | undefined;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'replicate-local-data-'));
});

afterEach(async () => {
  await running?.local.close();
  running = undefined;
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts the server on the test's data folder (on `port` when restarting, so output URLs stay valid). */
async function start(knobs: Partial<Knobs> = {}, port?: number): Promise<Local> {
  running = await startLocal(knobs, { dataDir, ...(port !== undefined && { port }) });
  return running;
}

/** Closes the running server and starts it again on the same folder and port. */
async function restart(knobs: Partial<Knobs> = {}): Promise<Local> {
  const port = portOf(running!.local);
  await running!.local.close();
  running = undefined;
  return start(knobs, port);
}

function status(request: ReceivedRequest): string {
  return (JSON.parse(request.body) as { status: string }).status;
}

const isCompleted = (request: ReceivedRequest) => ['succeeded', 'failed', 'canceled'].includes(status(request));

test('when a prediction is in flight as the server closes, then after a restart it finishes on schedule and its completed webhook is signed with the same secret', async () => {
  const receiver = await startWebhookReceiver();
  try {
    const first = await start();
    const created = await first.replicate.predictions.create({
      model: FLUX,
      input: { prompt: 'survives a restart', fake_latency_ms: 1500 },
      webhook: receiver.url,
      webhook_events_filter: ['start', 'completed'],
    });
    await waitFor(async () => (await first.replicate.predictions.get(created.id)).status === 'processing');
    const secret = first.local.webhookSecret;

    const second = await restart();
    expect(second.local.webhookSecret).toBe(secret);
    expect((await second.replicate.webhooks.default.secret.get()).key).toBe(secret);
    expect(receiver.requests.filter(isCompleted)).toHaveLength(0);

    const done = await settledPrediction(second.replicate, created.id);
    expect(done).toMatchObject({ id: created.id, status: 'succeeded', input: created.input, created_at: created.created_at });
    expect(Date.parse(done.completed_at!) - Date.parse(done.created_at)).toBeGreaterThanOrEqual(1500);
    const completed = await waitFor(() => receiver.requests.find(isCompleted));
    expect(JSON.parse(completed.body)).toMatchObject({ id: created.id, status: 'succeeded', output: done.output });
    expect(await clientValidates(completed, secret)).toBe(true);
    const [file] = await Promise.all((done.output as string[]).map(download));
    expect(file).toMatchObject({ status: 200, contentType: 'image/webp' });
  } finally {
    await receiver.close();
  }
});

test('when the server restarts, then finished predictions keep their JSON and their outputs download with the same bytes', async () => {
  const first = await start();
  const created = await first.replicate.predictions.create({ model: FLUX, input: { prompt: 'kept', seed: 5, output_format: 'png' } });
  const before = await settledPrediction(first.replicate, created.id);
  const bytesBefore = sha256((await download((before.output as string[])[0]!)).data);

  const second = await restart();
  expect(await second.replicate.predictions.get(created.id)).toEqual(before);
  const after = await download((before.output as string[])[0]!);
  expect(after).toMatchObject({ status: 200, contentType: 'image/png' });
  expect(sha256(after.data)).toBe(bytesBefore);
  expect((await second.replicate.predictions.list()).results.map((p) => p.id)).toEqual([created.id]);
});

test('when outputs expired before a restart or while the server was down, then they stay expired after it', async () => {
  const first = await start({ output_retention_ms: 300 });
  const expiredBefore = await first.replicate.predictions.create({ model: FLUX, input: { prompt: 'gone before' } });
  const doneBefore = await settledPrediction(first.replicate, expiredBefore.id);
  await waitFor(async () => (await first.replicate.predictions.get(expiredBefore.id)).data_removed);
  first.local.setKnobs({ output_retention_ms: 3_600_000 });
  const expiresWhileDown = await first.replicate.predictions.create({ model: FLUX, input: { prompt: 'gone while down' } });
  const doneDown = await settledPrediction(first.replicate, expiresWhileDown.id);
  expect((await download((doneDown.output as string[])[0]!)).status).toBe(200);

  await running!.local.close();
  running = undefined;
  await sleep(400);
  const second = await start({ output_retention_ms: 300 }, portOf(first.local));
  for (const [id, outputs] of [
    [expiredBefore.id, doneBefore.output],
    [expiresWhileDown.id, doneDown.output],
  ] as const) {
    expect(await second.replicate.predictions.get(id)).toMatchObject({ status: 'succeeded', output: null, data_removed: true });
    expect((await download((outputs as string[])[0]!)).status).toBe(404);
  }
  second.local.setKnobs({ output_retention_ms: 3_600_000 });
  expect(await second.replicate.predictions.get(expiredBefore.id)).toMatchObject({ output: null, data_removed: true });
});

test('when a completed webhook is still being retried as the server closes, then the restarted server resends it with the same id', async () => {
  let failing = true;
  const receiver = await startWebhookReceiver(() => (failing ? 500 : 200));
  try {
    const first = await start({ webhook_retry_base_ms: 60_000 });
    const created = await first.replicate.predictions.create({
      model: FLUX,
      input: { prompt: 'owed webhook' },
      webhook: receiver.url,
      webhook_events_filter: ['completed'],
    });
    const firstAttempt = await waitFor(() => receiver.requests.find(isCompleted));

    failing = false;
    await restart({ webhook_retry_base_ms: 60_000 });
    await waitFor(() => receiver.requests.length >= 2);
    const resent = receiver.requests[1]!;
    expect(resent.headers['webhook-id']).toBe(firstAttempt.headers['webhook-id']);
    expect(resent.body).toBe(firstAttempt.body);
    expect(JSON.parse(resent.body)).toMatchObject({ id: created.id, status: 'succeeded' });
    expect(await clientValidates(resent, first.local.webhookSecret)).toBe(true);

    await restart();
    await sleep(300);
    expect(receiver.requests).toHaveLength(2);
  } finally {
    await receiver.close();
  }
});

test('when the data folder holds a damaged webhook secret, then the server refuses to start and names the file', async () => {
  writeFileSync(path.join(dataDir, 'webhook-secret'), 'not a secret\n');
  await expect(start()).rejects.toThrow(path.join(dataDir, 'webhook-secret'));
});

describe('trainings', () => {
  let files: TestHttpServer;

  beforeAll(async () => {
    const zip = await buildZip([
      { name: 'a.png', data: await solidImage('png') },
      { name: 'b.jpg', data: await solidImage('jpeg') },
    ]);
    files = await serveFiles({ 'images.zip': { contentType: 'application/zip', data: zip } });
  });

  afterAll(async () => {
    await files.close();
  });

  test('when a training is in flight as the server closes, then after a restart it finishes, once, and its version runs predictions', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const first = await start();
      await first.replicate.models.create('me', 'restarted-lora', { visibility: 'private', hardware: 'gpu-t4' });
      const created = await first.replicate.trainings.create(TRAINER_OWNER, TRAINER_NAME, TRAINER.version, {
        destination: 'me/restarted-lora',
        input: { input_images: `${files.url}/images.zip`, trigger_word: 'TOK', steps: 100, fake_latency_ms: 1500 },
        webhook: receiver.url,
        webhook_events_filter: ['completed'],
      });
      await waitFor(async () => (await first.replicate.trainings.get(created.id)).logs?.includes('Found 2 training images'));

      const second = await restart();
      const done = await settledTraining(second.replicate, created.id);
      expect(done).toMatchObject({ status: 'succeeded', input: created.input });
      expect(done.logs).toContain('flux_train_replicate: 100%|');
      expect(done.logs!.match(/Found 2 training images/g)).toHaveLength(1);
      const completed = await waitFor(() => receiver.requests.find(isCompleted));
      expect(JSON.parse(completed.body)).toMatchObject({ id: created.id, status: 'succeeded', output: done.output });
      expect(await clientValidates(completed, first.local.webhookSecret)).toBe(true);
      expect((await download(done.output!.weights!)).status).toBe(200);

      const third = await restart();
      const model = await third.replicate.models.get('me', 'restarted-lora');
      expect(`me/restarted-lora:${model.latest_version?.id}`).toBe(done.output!.version);
      expect((await third.replicate.models.versions.list('me', 'restarted-lora')).results).toHaveLength(1);
      expect((await third.replicate.trainings.list()).results.map((t) => t.id)).toEqual([created.id]);
      const prediction = await third.replicate.predictions.create({ version: model.latest_version!.id, input: { prompt: 'TOK portrait' } });
      expect(await settledPrediction(third.replicate, prediction.id)).toMatchObject({ status: 'succeeded', model: 'me/restarted-lora' });
    } finally {
      await receiver.close();
    }
  });
});
