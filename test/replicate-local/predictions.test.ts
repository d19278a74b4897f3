import sharp from 'sharp';
import { decodePcm16Wav, encodeWav } from '../../tools/replicate-local/audio-media';
import { generateImage } from '../../tools/replicate-local/image-media';
import { BUILTIN_MODELS, builtinVersionId } from '../../tools/replicate-local/server';
import {
  download,
  rawApi,
  serveFiles,
  settledPrediction,
  sha256,
  solidImage,
  startLocal,
  type Local,
  type TestHttpServer,
} from './helpers';

const FLUX = 'black-forest-labs/flux-schnell';
const SDXL = 'stability-ai/sdxl';

let t: Local;
let files: TestHttpServer;

/** A quiet 1 s 16-bit WAV (peak 1000) to enhance. */
const quietWav = encodeWav({
  samples: Int16Array.from({ length: 16_000 }, (_, i) => Math.round(1000 * Math.sin(i / 10))),
  sampleRate: 16_000,
  channels: 1,
});

beforeAll(async () => {
  t = await startLocal();
  files = await serveFiles({
    'photo.png': { contentType: 'image/png', data: await solidImage('png', 300, 200) },
    'voice.wav': { contentType: 'audio/wav', data: quietWav },
    'notes.txt': { contentType: 'text/plain', data: Buffer.from('not audio at all') },
  });
});

afterAll(async () => {
  await t.local.close();
  await files.close();
});

async function outputFiles(output: string[]) {
  return Promise.all(output.map(download));
}

describe('prediction lifecycle', () => {
  test('a model prediction goes starting → processing → succeeded', async () => {
    const { replicate } = t;
    const created = await replicate.predictions.create({ model: FLUX, input: { prompt: 'a cat', fake_latency_ms: 600 } });
    expect(created).toMatchObject({ model: FLUX, version: builtinVersionId(FLUX), status: 'starting', output: null, error: null });
    expect(created.id).toMatch(/^[a-z0-9]{26}$/);
    expect(created.urls.get).toBe(`${t.local.apiBaseUrl}/predictions/${created.id}`);

    const seen = new Set<string>();
    let prediction = created;
    while (!['succeeded', 'failed', 'canceled'].includes(prediction.status)) {
      seen.add(prediction.status);
      await new Promise((r) => setTimeout(r, 10));
      prediction = await replicate.predictions.get(created.id);
    }
    expect([...seen]).toEqual(['starting', 'processing']);
    expect(prediction.status).toBe('succeeded');
    expect(prediction.output).toHaveLength(1);
    expect(prediction.started_at).toBeTruthy();
    expect(prediction.completed_at).toBeTruthy();
    expect(prediction.metrics?.predict_time).toBeGreaterThan(0);
    expect(prediction.logs).toMatch(/Using seed: \d+/);
  });

  test('version predictions accept a bare version id and owner/name:version', async () => {
    const { replicate } = t;
    const version = builtinVersionId(SDXL);
    for (const ref of [version, `${SDXL}:${version}`]) {
      const created = await replicate.predictions.create({ version: ref, input: { prompt: 'a castle', width: 512, height: 256 } });
      expect(created.model).toBe(SDXL);
      const done = await replicate.wait(created, { interval: 10 });
      const [image] = await outputFiles(done.output);
      expect(image).toMatchObject({ status: 200, contentType: 'image/png' });
      expect(await sharp(image!.data).metadata()).toMatchObject({ format: 'png', width: 512, height: 256 });
    }
  });

  test('replicate.run (Prefer: wait) returns the outputs without polling', async () => {
    const output = (await t.replicate.run(FLUX, { input: { prompt: 'a dog', num_outputs: 2 } })) as string[];
    expect(output).toHaveLength(2);
    expect(output[0]).toMatch(new RegExp(`^${t.local.url}/files/[a-z0-9]{26}/0\\.webp$`));
  });

  test('lists predictions newest first', async () => {
    const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'listed' } });
    const page = await t.replicate.predictions.list();
    expect(page.results[0]?.id).toBe(created.id);
  });
});

describe('image outputs', () => {
  test('same prompt + seed give identical bytes, in the requested format and size', async () => {
    const { replicate } = t;
    const input = { prompt: 'a red fox', seed: 42, num_outputs: 2, output_format: 'png', width: 512, height: 768 };
    const runs = await Promise.all(
      [1, 2].map(async () => {
        const created = await replicate.predictions.create({ model: FLUX, input });
        return outputFiles((await replicate.wait(created, { interval: 10 })).output);
      }),
    );
    const [first = [], second = []] = runs;
    expect(first.map((f) => sha256(f.data))).toEqual(second.map((f) => sha256(f.data)));
    expect(sha256(first[0]!.data)).not.toBe(sha256(first[1]!.data));
    for (const file of first) {
      expect(file).toMatchObject({ status: 200, contentType: 'image/png', contentLength: String(file.data.length) });
      expect(await sharp(file.data).metadata()).toMatchObject({ format: 'png', width: 512, height: 768 });
    }
  });

  test.each([
    ['jpg', 'image/jpeg', 'jpeg', '16:9', 1344, 768],
    ['webp', 'image/webp', 'webp', '1:1', 1024, 1024],
  ])('output_format %s with aspect ratio', async (format, contentType, sharpFormat, aspect_ratio, width, height) => {
    const { replicate } = t;
    const created = await replicate.predictions.create({ model: FLUX, input: { prompt: 'x', output_format: format, aspect_ratio } });
    const [file] = await outputFiles((await replicate.wait(created, { interval: 10 })).output);
    expect(file!.contentType).toBe(contentType);
    expect(await sharp(file!.data).metadata()).toMatchObject({ format: sharpFormat, width, height });
  });

  test('without a seed a random one is picked and logged', async () => {
    const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'seedless' } });
    const done = await t.replicate.wait(created, { interval: 10 });
    expect(done.logs).toMatch(/^Using seed: \d+$/m);
  });

  test('a 1024x1024 png is generated well under 100 ms', async () => {
    const spec = { prompt: 'speed', seed: 1, index: 0, width: 1024, height: 1024, format: 'png' as const };
    await generateImage(spec);
    const durations: number[] = [];
    for (let seed = 0; seed < 5; seed++) {
      const started = performance.now();
      await generateImage({ ...spec, seed });
      durations.push(performance.now() - started);
    }
    const median = durations.sort((a, b) => a - b)[2]!;
    expect(median).toBeLessThan(100);
  });

  test('image-to-image transforms the fetched input image', async () => {
    const created = await t.replicate.predictions.create({
      model: 'stability-ai/stable-diffusion-img2img',
      input: { image: `${files.url}/photo.png?X-Amz-Signature=abc`, prompt: 'make it blue', seed: 3 },
    });
    const [file] = await outputFiles((await t.replicate.wait(created, { interval: 10 })).output);
    expect(await sharp(file!.data).metadata()).toMatchObject({ format: 'png', width: 300, height: 200 });
  });

  test('image-to-image fails clearly when the input cannot be fetched', async () => {
    const created = await t.replicate.predictions.create({
      model: 'stability-ai/stable-diffusion-img2img',
      input: { image: `${files.url}/missing.png?X-Amz-Signature=secret`, prompt: 'x' },
    });
    const done = await settledPrediction(t.replicate, created.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe(`Failed to download image from ${files.url}/missing.png: HTTP 404 Not Found`);
  });
});

describe('audio outputs', () => {
  test('musicgen returns a playable 16-bit WAV of the requested duration', async () => {
    const created = await t.replicate.predictions.create({ model: 'meta/musicgen', input: { prompt: 'lofi beat', duration: 2 } });
    const [file] = await outputFiles((await t.replicate.wait(created, { interval: 10 })).output);
    expect(file!.contentType).toBe('audio/wav');
    expect(file!.data.toString('latin1', 0, 4)).toBe('RIFF');
    const pcm = decodePcm16Wav(file!.data);
    expect(pcm).toMatchObject({ sampleRate: 32_000, channels: 1 });
    expect(pcm!.samples.length).toBe(64_000);
    expect(pcm!.samples.some((s) => s !== 0)).toBe(true);
  });

  test('resemble-enhance normalises a WAV fetched from its URL', async () => {
    const created = await t.replicate.predictions.create({
      model: 'resemble-ai/resemble-enhance',
      input: { input_audio: `${files.url}/voice.wav` },
    });
    const [file] = await outputFiles((await t.replicate.wait(created, { interval: 10 })).output);
    const pcm = decodePcm16Wav(file!.data)!;
    expect(pcm).toMatchObject({ sampleRate: 16_000, channels: 1 });
    expect(pcm.samples.length).toBe(16_000);
    expect(Math.max(...pcm.samples)).toBeGreaterThan(29_000);
  });

  test('resemble-enhance fails clearly when the input is not audio', async () => {
    const created = await t.replicate.predictions.create({
      model: 'resemble-ai/resemble-enhance',
      input: { audio: `${files.url}/notes.txt` },
    });
    const done = await settledPrediction(t.replicate, created.id);
    expect(done.status).toBe('failed');
    expect(done.error).toBe('Input audio is not a supported audio file (expected WAV, MP3, FLAC or OGG)');
  });
});

describe('failures and cancellation', () => {
  test('fake_error fails the prediction with exactly that message', async () => {
    const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'x', fake_error: 'NSFW content detected' } });
    const done = await settledPrediction(t.replicate, created.id);
    expect(done).toMatchObject({ status: 'failed', error: 'NSFW content detected', output: null });
    await expect(t.replicate.run(FLUX, { input: { prompt: 'x', fake_error: 'boom' } })).rejects.toThrow('Prediction failed: boom');
  });

  test('failure_rate 1 fails every prediction with a simulated crash', async () => {
    t.local.setKnobs({ failure_rate: 1 });
    try {
      const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'x' } });
      const done = await settledPrediction(t.replicate, created.id);
      expect(done).toMatchObject({ status: 'failed', error: 'Prediction failed: model crashed (simulated)' });
    } finally {
      t.local.setKnobs({ failure_rate: 0 });
    }
  });

  test('cancel stops a running prediction; canceling a finished one returns it unchanged', async () => {
    const created = await t.replicate.predictions.create({ model: FLUX, input: { prompt: 'slow', fake_latency_ms: 5000 } });
    const canceled = await t.replicate.predictions.cancel(created.id);
    expect(canceled).toMatchObject({ status: 'canceled', output: null });
    expect(await t.replicate.predictions.cancel(created.id)).toEqual(canceled);
    expect(await t.replicate.predictions.get(created.id)).toEqual(canceled);
  });

  test('fake_latency_ms overrides the latency knob; 0 completes as fast as possible', async () => {
    t.local.setKnobs({ latency_ms: 10_000 });
    try {
      const started = Date.now();
      const output = await t.replicate.run(FLUX, { input: { prompt: 'now', fake_latency_ms: 0 } });
      expect(output).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      t.local.setKnobs({ latency_ms: 30 });
    }
  });
});

describe('errors', () => {
  function apiError(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
    return promise.then(
      () => {
        throw new Error('expected an ApiError');
      },
      (err: { response: Response; message: string }) => ({ status: err.response.status, message: err.message }),
    );
  }

  test('401 without a token', async () => {
    const response = await rawApi(t.local, `/predictions`, { auth: false });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ detail: 'You did not pass an authentication token' });
  });

  test('404 for unknown models, versions and predictions, in problem-JSON', async () => {
    const response = await rawApi(t.local, '/models/nobody/nothing/predictions', { method: 'POST', body: { input: {} } });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ title: 'Not found', detail: 'Model nobody/nothing not found.', status: 404 });
    expect(await apiError(t.replicate.predictions.create({ version: 'f'.repeat(64), input: {} }))).toMatchObject({ status: 404 });
    expect(await apiError(t.replicate.predictions.get('doesnotexist'))).toMatchObject({ status: 404 });
  });

  test('422 names the invalid input fields', async () => {
    const response = await rawApi(t.local, `/models/${FLUX}/predictions`, {
      method: 'POST',
      body: { input: { num_outputs: 5, output_format: 'gif', width: 4000 } },
    });
    expect(response.status).toBe(422);
    const body = (await response.json()) as { detail: string; invalid_fields: { field: string }[] };
    expect(body.detail).toBe(
      '- input: prompt is required\n' +
        '- input.num_outputs: Must be less than or equal to 4\n' +
        '- input.output_format: output_format must be one of the following: "webp", "jpg", "png"\n' +
        '- input.width: Must be less than or equal to 1440\n',
    );
    expect(body.invalid_fields.map((f) => f.field)).toEqual(['input', 'input.num_outputs', 'input.output_format', 'input.width']);
    const error = await apiError(t.replicate.predictions.create({ model: FLUX, input: { prompt: 'x', num_outputs: 0 } }));
    expect(error.status).toBe(422);
    expect(error.message).toContain('input.num_outputs: Must be greater than or equal to 1');
  });

  test('a trainer version cannot be used for predictions', async () => {
    const trainer = BUILTIN_MODELS.find((m) => m.kind === 'lora-trainer')!;
    const error = await apiError(t.replicate.predictions.create({ version: trainer.version, input: {} }));
    expect(error.status).toBe(422);
  });
});

describe('output retention', () => {
  test('outputs expire after output_retention_ms: files 404, output null, data_removed true', async () => {
    const { local, replicate } = await startLocal({ output_retention_ms: 500 });
    try {
      const created = await replicate.predictions.create({ model: FLUX, input: { prompt: 'ephemeral' } });
      const done = await replicate.wait(created, { interval: 10 });
      expect(done.data_removed).toBe(false);
      const [url] = done.output as string[];
      expect((await download(url!)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 550));
      expect((await download(url!)).status).toBe(404);
      expect(await replicate.predictions.get(created.id)).toMatchObject({ status: 'succeeded', output: null, data_removed: true });
    } finally {
      await local.close();
    }
  });
});
