import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ledgerBalance } from '../../src/credits/ledger';
import { generateWav } from '../../tools/replicate-local/audio-media';
import { fundedUser } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** resemble-enhance: 1 credit per run for each started 15 s of the recording, at most 10 minutes (the catalog's seed). */
const ENHANCE = 'resemble-ai/resemble-enhance';
const PER_DURATION = { fields: ['input_file.duration'], step: 15, unit: 'seconds' };

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

const upload = (user: TestUser, data: Buffer, filename: string) => env.api.post('/api/v1/uploads').set(user.auth).attach('file', data, { filename, contentType: 'application/octet-stream' });
const quote = (user: TestUser, body: object) => env.api.post('/api/v1/quote').set(user.auth).send({ kind: 'job', ...body });
const generate = (user: TestUser, body: object) => env.api.post('/api/v1/generate').set(user.auth).send(body);

/** A silent 8-bit mono PCM WAV at 4 kHz (4 KB a second, so ten minutes stay small). */
function silentWav(seconds: number): Buffer {
  const rate = 4000;
  const data = Buffer.alloc(Math.round(seconds * rate), 0x80);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(data.length, 40);
  return Buffer.concat([header, data]);
}

/** What a refused request must leave as it was: the balance (equal to the ledger's sums), the ledger, the jobs and the workflows. */
async function footprint(user: TestUser) {
  const [balance, ledger, jobs, workflows] = await Promise.all([
    env.api.get('/api/v1/balance').set(user.auth).expect(200),
    env.db.creditLedger.count({ where: { userId: user.id } }),
    env.db.job.count({ where: { userId: user.id } }),
    env.temporal.workflow.count(`UserId = "${user.id}"`),
  ]);
  expect(balance.body).toEqual(await ledgerBalance(env.db, user.id));
  return { balance: balance.body, ledger, jobs, workflows: workflows.count };
}

describe('audio priced by its duration', () => {
  it('when a 30 s WAV is uploaded, then its duration is read; the quote is 2 credits (two started 15 s) and the job reserves and is charged exactly that', async () => {
    const user = await fundedUser(env, 100);
    const wav = generateWav('a thirty-second memo', 30);
    const up = await upload(user, wav, 'memo.wav').expect(201);
    expect(up.body).toEqual({ upload_id: expect.any(String), content_type: 'audio/wav', size_bytes: wav.length, duration_seconds: 30 });
    expect((await env.db.upload.findUniqueOrThrow({ where: { id: up.body.upload_id } })).durationMs).toBe(30_000);

    const body = { model: ENHANCE, input_file: up.body.upload_id, parameters: { denoise_flag: true, fake_latency_ms: 1500 } };
    const before = await footprint(user);
    const quoted = await quote(user, body).expect(200);
    expect(quoted.body).toEqual({
      kind: 'job',
      credits: 2,
      unit: 'credits',
      breakdown: {
        model: ENHANCE,
        per: 'run',
        base_credits: 1,
        scale: PER_DURATION,
        quantities: { 'input_file.duration': 30 },
        unit_credits: 2,
        count: 1,
        summary: "1 credit per run for each started 15 seconds of the input file's duration",
      },
      parameters: { denoise_flag: true, fake_latency_ms: 1500 },
    });
    expect(await footprint(user)).toEqual(before);

    // Accepting reserves the quote; the job's stored price is what settling charges.
    const accepted = await generate(user, body).expect(202);
    const jobId = accepted.body.job_id as string;
    expect((await footprint(user)).balance).toEqual({ credits: 98, reserved: 2 });
    expect(await env.db.job.findUniqueOrThrow({ where: { id: jobId }, select: { priceUnit: true, priceCredits: true } })).toEqual({ priceUnit: 'run', priceCredits: 2 });

    const job = await env.waitForJob(user, jobId);
    expect(job).toMatchObject({ status: 'succeeded', credits_spent: 2, credits_reserved: 0 });
    expect((await footprint(user)).balance).toEqual({ credits: 98, reserved: 0 });
    const ledger = await env.db.creditLedger.findMany({ where: { jobId } });
    expect(Object.fromEntries(ledger.map((r) => [r.movement, r.credits]))).toEqual({ reserve: 2, commit: 2, release: 0 });
  });

  it('when the recording is exactly the 10-minute limit, then it is quoted at 40 credits', async () => {
    const user = await fundedUser(env, 100);
    const up = await upload(user, silentWav(600), 'ten-minutes.wav').expect(201);
    expect(up.body.duration_seconds).toBe(600);
    const quoted = await quote(user, { model: ENHANCE, input_file: up.body.upload_id }).expect(200);
    expect(quoted.body).toMatchObject({ credits: 40, breakdown: { quantities: { 'input_file.duration': 600 }, unit_credits: 40 } });
  });

  it('when the recording is longer than the limit, then the quote and the job answer 422 naming input_file with its duration and the limit, and nothing is reserved, written or started', async () => {
    const user = await fundedUser(env, 100);
    const up = await upload(user, silentWav(600.5), 'too-long.wav').expect(201);
    expect(up.body.duration_seconds).toBe(600.5);
    const body = { model: ENHANCE, input_file: up.body.upload_id };
    const before = await footprint(user);

    const expected = {
      code: 'validation_failed',
      message: expect.stringContaining('input_file'),
      details: {
        issues: [{ field: 'input_file', message: 'the recording is 10:00.5 (600.5 s) long; this model takes at most 10:00 (600 s)' }],
        input_file: { upload_id: up.body.upload_id, duration_seconds: 600.5, max_duration_seconds: 600 },
      },
    };
    expect((await quote(user, body).expect(422)).body.error).toEqual(expected);
    expect((await generate(user, body).expect(422)).body.error).toEqual(expected);
    // A spend cap does not get a say before the input check: still 422.
    expect((await generate(user, { ...body, max_credits: 1 }).expect(422)).body.error).toEqual(expected);

    expect(await footprint(user)).toEqual(before);
    expect(before).toMatchObject({ balance: { credits: 100, reserved: 0 }, jobs: 0, workflows: 0 });
  });

  it('when the duration cannot be read, then the upload is still accepted, and the quote and the job answer 422 naming input_file; nothing is reserved', async () => {
    const user = await fundedUser(env, 100);
    // A WAV header with no data chunk: the type is audio/wav, the duration is nowhere.
    const headerOnly = silentWav(1).subarray(0, 36);
    headerOnly.writeUInt32LE(28, 4);
    const up = await upload(user, headerOnly, 'broken.wav').expect(201);
    expect(up.body).toEqual({ upload_id: expect.any(String), content_type: 'audio/wav', size_bytes: 36, duration_seconds: null });
    const body = { model: ENHANCE, input_file: up.body.upload_id };
    const before = await footprint(user);

    for (const res of [await quote(user, body).expect(422), await generate(user, body).expect(422)]) {
      expect(res.body.error).toEqual({
        code: 'validation_failed',
        message: expect.stringContaining('could not be read'),
        details: {
          issues: [{ field: 'input_file', message: expect.stringContaining('the duration of this recording could not be read from its headers') }],
          input_file: { upload_id: up.body.upload_id, duration_seconds: null, max_duration_seconds: 600 },
        },
      });
    }
    expect(await footprint(user)).toEqual(before);
    expect(before.jobs).toBe(0);
  });

  it('when MP3, FLAC, Ogg Vorbis and Ogg Opus files are uploaded, then each one’s duration is read and priced', async () => {
    const user = await fundedUser(env, 100);
    for (const name of ['stereo44k-vbr-id3.mp3', 'mono16k.flac', 'stereo44k-vorbis.ogg', 'mono16k.opus']) {
      const up = await upload(user, await readFile(path.join(__dirname, '../fixtures/audio', name)), name).expect(201);
      expect([name, up.body.duration_seconds]).toEqual([name, 2.5]);
      expect((await quote(user, { model: ENHANCE, input_file: up.body.upload_id }).expect(200)).body.credits).toBe(1);
    }
  });

  it('when the catalog is listed, then resemble-enhance shows its price per started 15 s of the recording and its limit', async () => {
    const user = await env.createUser();
    const models = (await env.api.get('/api/v1/models').set(user.auth).expect(200)).body.items as Array<{ name: string }>;
    expect(models.find((m) => m.name === ENHANCE)).toMatchObject({
      input: { file: { media_types: ['audio/wav', 'audio/mpeg', 'audio/flac', 'audio/ogg'], max_duration_seconds: 600 } },
      price: { credits: 1, per: 'run', scale: PER_DURATION, summary: "1 credit per run for each started 15 seconds of the input file's duration" },
    });
  });
});
