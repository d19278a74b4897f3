import sharp from 'sharp';
import { BUILTIN_MODELS } from '../../tools/replicate-local/server';
import {
  buildZip,
  download,
  rawApi,
  serveFiles,
  settledTraining,
  solidImage,
  startLocal,
  startWebhookReceiver,
  waitFor,
  type Local,
  type TestHttpServer,
} from './helpers';

const TRAINER = BUILTIN_MODELS.find((m) => m.kind === 'lora-trainer')!;
const [TRAINER_OWNER = '', TRAINER_NAME = ''] = TRAINER.ref.split('/');

let t: Local;
let files: TestHttpServer;

beforeAll(async () => {
  t = await startLocal({ training_latency_ms: 150 });
  const [png, jpeg, webp] = await Promise.all([solidImage('png'), solidImage('jpeg'), solidImage('webp')]);
  const zip = (entries: { name: string; data: Buffer }[]) => buildZip(entries);
  files = await serveFiles({
    'images.zip': {
      contentType: 'application/zip',
      data: await zip([
        { name: 'photos/a.png', data: png! },
        { name: 'photos/b.jpg', data: jpeg! },
        { name: 'photos/c.webp', data: webp! },
        { name: '__MACOSX/photos/._a.png', data: Buffer.from('resource fork') },
      ]),
    },
    'mixed.zip': {
      contentType: 'application/zip',
      data: await zip([
        { name: 'a.png', data: png! },
        { name: 'notes.txt', data: Buffer.from('hello') },
      ]),
    },
    'empty.zip': { contentType: 'application/zip', data: await zip([{ name: '.DS_Store', data: Buffer.from('x') }]) },
    'not-a-zip.zip': { contentType: 'application/zip', data: Buffer.from('definitely not a zip file') },
  });
});

afterAll(async () => {
  await t.local.close();
  await files.close();
});

let modelCounter = 0;

type Destination = `${string}/${string}`;
type WebhookOptions = { webhook?: string; webhook_events_filter?: ('start' | 'output' | 'logs' | 'completed')[] };

async function destination(): Promise<Destination> {
  const name = `lora-${++modelCounter}`;
  await t.replicate.models.create('me', name, { visibility: 'private', hardware: 'gpu-t4' });
  return `me/${name}`;
}

async function train(dest: Destination, input: Record<string, unknown>, extra: WebhookOptions = {}) {
  return t.replicate.trainings.create(TRAINER_OWNER, TRAINER_NAME, TRAINER.version, { destination: dest, input, ...extra });
}

describe('models', () => {
  test('a created model has no latest_version until trained; creating it again is a 409', async () => {
    const created = await t.replicate.models.create('me', 'fresh', { visibility: 'private', hardware: 'gpu-t4', description: 'd' });
    expect(created).toMatchObject({ owner: 'me', name: 'fresh', visibility: 'private', description: 'd', latest_version: null });
    expect(await t.replicate.models.get('me', 'fresh')).toEqual(created);
    const again = await rawApi(t.local, '/models', { method: 'POST', body: { owner: 'me', name: 'fresh', visibility: 'private', hardware: 'gpu-t4' } });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ status: 409, detail: expect.stringContaining('already exists') });
    const predict = await rawApi(t.local, '/models/me/fresh/predictions', { method: 'POST', body: { input: { prompt: 'x' } } });
    expect(predict.status).toBe(404);
  });
});

describe('trainings', () => {
  test('a training on a zip of images succeeds, logs progress, and adds a usable version', async () => {
    const receiver = await startWebhookReceiver();
    try {
      const dest = await destination();
      const created = await train(
        dest,
        { input_images: `${files.url}/images.zip?X-Amz-Signature=s3cr3t`, trigger_word: 'ZXC', steps: 500 },
        { webhook: receiver.url, webhook_events_filter: ['logs', 'completed'] },
      );
      expect(created).toMatchObject({ model: TRAINER.ref, version: TRAINER.version, status: 'starting', output: null });
      expect(created.urls.get).toBe(`${t.local.apiBaseUrl}/trainings/${created.id}`);

      const training = await settledTraining(t.replicate, created.id);
      expect(training.status).toBe('succeeded');
      expect(training.logs).toContain('Found 3 training images, trigger word: ZXC');
      expect(training.logs).not.toContain('s3cr3t');
      const percents = [...(training.logs ?? '').matchAll(/^flux_train_replicate: +(\d+)%\|.*\| (\d+)\/500 /gm)].map((m) => Number(m[1]));
      expect(percents).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);

      const output = training.output as { version: string; weights: string };
      expect(output.version).toMatch(new RegExp(`^${dest}:[0-9a-f]{64}$`));
      const weights = await download(output.weights);
      expect(weights.status).toBe(200);
      const headerLength = Number(weights.data.readBigUInt64LE(0));
      expect(JSON.parse(weights.data.subarray(8, 8 + headerLength).toString())).toMatchObject({
        __metadata__: { trigger_word: 'ZXC', steps: '500' },
      });

      const versionId = output.version.split(':')[1]!;
      const [owner = '', name = ''] = dest.split('/');
      expect((await t.replicate.models.get(owner, name)).latest_version?.id).toBe(versionId);

      const prediction = await t.replicate.predictions.create({ version: versionId, input: { prompt: 'a photo of ZXC', seed: 1 } });
      expect(prediction.model).toBe(dest);
      const done = await t.replicate.wait(prediction, { interval: 10 });
      const [image] = await Promise.all((done.output as string[]).map(download));
      expect(await sharp(image!.data).metadata()).toMatchObject({ format: 'webp', width: 1024, height: 1024 });

      await waitFor(() => receiver.requests.some((r) => JSON.parse(r.body).status === 'succeeded'));
      const logEvents = receiver.requests.map((r) => JSON.parse(r.body)).filter((b) => b.status === 'processing');
      expect(logEvents.length).toBeGreaterThan(5);
    } finally {
      await receiver.close();
    }
  });

  test.each([
    ['not-a-zip.zip', /^input_images is not a valid zip archive: /],
    ['mixed.zip', /^input_images contains a file that is not an image: notes\.txt$/],
    ['empty.zip', /^input_images contains no images$/],
    ['missing.zip', /^Failed to download input_images from http:\/\/127\.0\.0\.1:\d+\/missing\.zip: HTTP 404 Not Found$/],
  ])('fails clearly for %s', async (file, error) => {
    const dest = await destination();
    const created = await train(dest, { input_images: `${files.url}/${file}` });
    const training = await settledTraining(t.replicate, created.id);
    expect(training.status).toBe('failed');
    expect(training.error).toMatch(error);
    const [owner = '', name = ''] = dest.split('/');
    expect((await t.replicate.models.get(owner, name)).latest_version).toBeNull();
  });

  test('fake_error fails the training with that message after the progress', async () => {
    const created = await train(await destination(), { input_images: `${files.url}/images.zip`, fake_error: 'CUDA out of memory' });
    const training = await settledTraining(t.replicate, created.id);
    expect(training).toMatchObject({ status: 'failed', error: 'CUDA out of memory' });
    expect(training.logs).toContain('100%|');
  });

  test('cancel stops a training; no version is added', async () => {
    const dest = await destination();
    const created = await train(dest, { input_images: `${files.url}/images.zip`, fake_latency_ms: 5000 });
    const canceled = await t.replicate.trainings.cancel(created.id);
    expect(canceled.status).toBe('canceled');
    await new Promise((r) => setTimeout(r, 50));
    expect((await t.replicate.trainings.get(created.id)).status).toBe('canceled');
    const [owner = '', name = ''] = dest.split('/');
    expect((await t.replicate.models.get(owner, name)).latest_version).toBeNull();
    expect((await t.replicate.trainings.list()).results.map((r) => r.id)).toContain(created.id);
  });

  test('validation: unknown destination 404, missing input_images 422, unknown trainer version 404', async () => {
    const route = `/models/${TRAINER.ref}/versions/${TRAINER.version}/trainings`;
    const unknownDest = await rawApi(t.local, route, { method: 'POST', body: { destination: 'me/nope', input: { input_images: `${files.url}/images.zip` } } });
    expect(unknownDest.status).toBe(404);
    const missing = await rawApi(t.local, route, { method: 'POST', body: { destination: await destination(), input: {} } });
    expect(missing.status).toBe(422);
    expect(((await missing.json()) as { detail: string }).detail).toBe('- input: input_images is required\n');
    const badVersion = await rawApi(t.local, `/models/${TRAINER.ref}/versions/${'0'.repeat(64)}/trainings`, {
      method: 'POST',
      body: { destination: await destination(), input: { input_images: `${files.url}/images.zip` } },
    });
    expect(badVersion.status).toBe(404);
  });
});
