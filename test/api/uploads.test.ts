import sharp from 'sharp';
import { generateWav } from '../../tools/replicate-local/audio-media';
import { makePng, makeTextFile } from '../fixtures/images';
import { fundedUser } from '../helpers/factories';
import { binaryParser, sha256 } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

const ENHANCE = 'resemble-ai/resemble-enhance';
const IMG2IMG = 'stability-ai/stable-diffusion-img2img';
const IMAGE_LIMIT = 200 * 1024;

let env: TestEnv;
let alice: TestUser;
let bob: TestUser;
let recording: Buffer;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 }, env: { UPLOAD_MAX_IMAGE_BYTES: String(IMAGE_LIMIT) } });
  [alice, bob] = await Promise.all([fundedUser(env), fundedUser(env)]);
  // A 2 s mono 16-bit PCM WAV at 32 kHz, quieter than full scale (the enhancer normalises it).
  recording = generateWav('a voice memo', 2);
});
afterAll(() => env?.stop());

function upload(user: TestUser, data: Buffer, filename: string, contentType = 'application/octet-stream') {
  return env.api.post('/api/v1/uploads').set(user.auth).attach('file', data, { filename, contentType });
}

async function uploadId(user: TestUser, data: Buffer, filename: string): Promise<string> {
  return (await upload(user, data, filename).expect(201)).body.upload_id;
}

const generate = (user: TestUser, body: object) => env.api.post('/api/v1/generate').set(user.auth).send(body);

function download(user: TestUser, jobId: string, index = 0) {
  return env.api.get(`/api/v1/download/${jobId}?index=${index}`).set(user.auth).buffer(true).parse(binaryParser as never).expect(200);
}

async function providerInput(jobId: string): Promise<Record<string, string>> {
  const row = await env.db.job.findUniqueOrThrow({ where: { id: jobId } });
  const res = await fetch(`${env.replicate.apiBaseUrl}/predictions/${row.providerPredictionId}`, { headers: { Authorization: 'Bearer t' } });
  return ((await res.json()) as { input: Record<string, string> }).input;
}

describe('uploading a file', () => {
  it('when a WAV is sent under a misleading name and type, then its type comes from its bytes and our bucket holds it as sent', async () => {
    const res = await upload(alice, recording, 'photo.jpg', 'image/jpeg').expect(201);
    expect(res.body).toEqual({ upload_id: expect.any(String), content_type: 'audio/wav', size_bytes: recording.length, duration_seconds: 2 });
    const row = await env.db.upload.findUniqueOrThrow({ where: { id: res.body.upload_id } });
    expect(row).toMatchObject({ userId: alice.id, contentType: 'audio/wav', sha256: sha256(recording), durationMs: 2000 });
    const stored = await env.runtime.storage.getStream(row.s3Key);
    const chunks: Buffer[] = [];
    for await (const chunk of stored!.body) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(recording));
  });

  it('when the bytes are not an image, audio or video type we know, then 415 and nothing is stored', async () => {
    const user = await env.createUser();
    const res = await upload(user, makeTextFile(), 'song.wav', 'audio/wav').expect(415);
    expect(res.body.error).toMatchObject({ code: 'unsupported_media_type', message: expect.stringContaining('content, not its name') });
    expect(await env.db.upload.count({ where: { userId: user.id } })).toBe(0);
  });

  it('when a file is larger than the limit for its kind, then 413 naming the limit; a larger file of another kind is fine', async () => {
    const user = await env.createUser();
    const big = await makePng({ width: 512, height: 512, noise: true });
    expect(big.length).toBeGreaterThan(IMAGE_LIMIT);
    const res = await upload(user, big, 'big.png', 'image/png').expect(413);
    expect(res.body.error).toEqual({ code: 'payload_too_large', message: expect.stringContaining('200 KB limit for image files'), details: { content_type: 'image/png', max_bytes: IMAGE_LIMIT } });
    expect(await env.db.upload.count({ where: { userId: user.id } })).toBe(0);

    const longRecording = generateWav('a long memo', 8);
    expect(longRecording.length).toBeGreaterThan(IMAGE_LIMIT);
    await upload(user, longRecording, 'long.wav').expect(201);
  });

  it('when the request has no file or no API key, then 422 or 401', async () => {
    const noFile = await env.api.post('/api/v1/uploads').set(alice.auth).field('note', 'hello').expect(422);
    expect(noFile.body.error.details).toEqual({ issues: [{ field: 'file', message: 'required' }] });
    await env.api.post('/api/v1/uploads').attach('file', recording, 'a.wav').expect(401);
  });
});

describe('jobs from an uploaded file', () => {
  it('when an audio-enhancement job runs on an uploaded recording, then the provider fetches it by presigned URL and a playable WAV lands in our bucket', async () => {
    const input = await uploadId(alice, recording, 'memo.wav');
    const res = await generate(alice, { model: ENHANCE, input_file: input }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    // 1 credit for each started 15 s of the 2 s recording.
    expect(job).toMatchObject({ status: 'succeeded', model: ENHANCE, prompt: null, output_format: null, input_file: input, credits_spent: 1 });

    // Audio outputs are stored as they are: no image decoding, so no dimensions.
    expect(job.outputs).toHaveLength(1);
    expect(job.outputs[0]).toEqual({
      index: 0,
      url: expect.any(String),
      content_type: 'audio/wav',
      size_bytes: expect.any(Number),
      sha256: expect.any(String),
      expires_at: expect.any(String),
      deleted_at: null,
    });
    const wav = (await download(alice, job.job_id)).body as Buffer;
    expect(sha256(wav)).toBe(job.outputs[0].sha256);
    expect([wav.toString('latin1', 0, 4), wav.toString('latin1', 8, 12), wav.toString('latin1', 12, 16)]).toEqual(['RIFF', 'WAVE', 'fmt ']);
    expect({ pcm: wav.readUInt16LE(20), channels: wav.readUInt16LE(22), sampleRate: wav.readUInt32LE(24), bits: wav.readUInt16LE(34) }).toEqual({ pcm: 1, channels: 1, sampleRate: 32_000, bits: 16 });
    expect(wav.readUInt32LE(4)).toBe(wav.length - 8);
    expect(wav.length).toBe(recording.length);
    expect(sha256(wav)).not.toBe(sha256(recording));

    // The provider got a time-limited URL of our private bucket in the model's file field, and nothing else.
    const sent = await providerInput(job.job_id);
    expect(Object.keys(sent)).toEqual(['input_audio']);
    const url = new URL(sent.input_audio!);
    expect(url.searchParams.get('X-Amz-Signature')).toEqual(expect.any(String));
    expect(url.pathname).toContain(`/uploads/${alice.id}/${input}`);
    expect((await fetch(`${url.origin}${url.pathname}`)).status).toBe(403);

    const meta = await env.api.get(`/api/v1/jobs/${job.job_id}/metadata`).set(alice.auth).expect(200);
    expect(meta.body).toMatchObject({ input_file: input, price: { credits: 1, per: 'run' } });
    expect(meta.body.provider_input).toEqual({});
  });

  it('when an image-to-image job runs on an uploaded image, then it makes the outputs asked for, charged per output', async () => {
    const source = await makePng({ width: 320, height: 240 });
    const input = await uploadId(alice, source, 'sketch.png');
    const res = await generate(alice, { model: IMG2IMG, prompt: 'as an oil painting', input_file: input, num_outputs: 2 }).expect(202);
    const job = await env.waitForJob(alice, res.body.job_id);
    expect(job).toMatchObject({ status: 'succeeded', output_format: 'png', credits_spent: 6 });
    expect(job.outputs.map((o: { content_type: string; width: number; height: number }) => [o.content_type, o.width, o.height])).toEqual([
      ['image/png', 320, 240],
      ['image/png', 320, 240],
    ]);
    const image = await sharp((await download(alice, job.job_id, 1)).body as Buffer).metadata();
    expect([image.format, image.width, image.height]).toEqual(['png', 320, 240]);
    expect((await providerInput(job.job_id)).image).toContain(`/uploads/${alice.id}/${input}?`);
  });
});

describe('what a model takes', () => {
  let audioUpload: string;
  let imageUpload: string;
  beforeAll(async () => {
    audioUpload = await uploadId(alice, recording, 'memo.wav');
    imageUpload = await uploadId(alice, await makePng({ width: 64, height: 64 }), 'small.png');
  });

  it.each([
    ['a file model gets no file', { model: ENHANCE }, 'input_file', 'needs an input file'],
    ['an image-to-image model gets no file', { model: IMG2IMG, prompt: 'x' }, 'input_file', 'needs an input file'],
    ['a text model gets a file', { model: 'black-forest-labs/flux-schnell', prompt: 'x', input_file: 'IMAGE' }, 'input_file', 'takes no input file'],
    ['an image model gets an audio file', { model: IMG2IMG, prompt: 'x', input_file: 'AUDIO' }, 'input_file', 'the upload is audio/wav'],
    ['an audio model gets an image file', { model: ENHANCE, input_file: 'IMAGE' }, 'input_file', 'the upload is image/png'],
    ['a prompt-less model gets a prompt', { model: ENHANCE, prompt: 'louder', input_file: 'AUDIO' }, 'prompt', 'takes no prompt'],
    ['a prompt model gets none', { model: 'meta/musicgen' }, 'prompt', 'needs a prompt'],
    ['an audio model gets an output format', { model: 'meta/musicgen', prompt: 'x', output_format: 'png' }, 'output_format', 'image models only'],
    ['an audio model is asked for 2 outputs', { model: 'meta/musicgen', prompt: 'x', num_outputs: 2 }, 'num_outputs', 'one output per run'],
    ['the file is passed as a parameter', { model: IMG2IMG, prompt: 'x', input_file: 'IMAGE', parameters: { image: 'https://example.com/a.png' } }, 'parameters', 'as input_file'],
  ])('when %s, then 422 on that field and no job', async (_what, raw, field, message) => {
    const body = JSON.parse(JSON.stringify(raw).replace('"AUDIO"', JSON.stringify(audioUpload)).replace('"IMAGE"', JSON.stringify(imageUpload)));
    const before = await env.db.job.count({ where: { userId: alice.id } });
    const res = await generate(alice, body).expect(422);
    expect(res.body.error).toMatchObject({ code: 'validation_failed', details: { issues: [{ field, message: expect.stringContaining(message) }] } });
    expect(await env.db.job.count({ where: { userId: alice.id } })).toBe(before);
  });

  it("when someone else's upload is passed, then 422 exactly as for a missing one, and nothing is charged", async () => {
    const bobsBefore = await env.api.get('/api/v1/balance').set(bob.auth).expect(200);
    for (const input_file of [audioUpload, '00000000-0000-4000-8000-000000000000']) {
      const res = await generate(bob, { model: ENHANCE, input_file }).expect(422);
      expect(res.body.error.details.issues).toEqual([{ field: 'input_file', message: 'no upload with this id among yours' }]);
    }
    expect(await env.db.job.count({ where: { userId: bob.id } })).toBe(0);
    expect((await env.api.get('/api/v1/balance').set(bob.auth).expect(200)).body).toEqual(bobsBefore.body);
  });
});
