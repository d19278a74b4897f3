import http from 'node:http';
import { generateWav } from '../../tools/replicate-local/audio-media';
import { makeTextFile } from '../fixtures/images';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** UPLOAD_QUOTA_BYTES: a per-user storage quota that parallel uploads cannot overrun. */
const QUOTA = 1_000_000;

let env: TestEnv;
let memo: Buffer;

beforeAll(async () => {
  env = await startTestEnv({ worker: false, env: { UPLOAD_QUOTA_BYTES: String(QUOTA) } });
  // 6 s of 16-bit mono PCM at 32 kHz: 384 KB, so two fit in the quota and a third does not.
  memo = generateWav('a voice memo', 6);
});
afterAll(() => env?.stop());

const upload = (user: TestUser, data: Buffer, filename = 'memo.wav') =>
  env.api.post('/api/v1/uploads').set(user.auth).attach('file', data, { filename, contentType: 'audio/wav' });

async function stored(user: TestUser): Promise<{ counter: number; rows: number; sum: number }> {
  const [u, agg] = await Promise.all([
    env.db.user.findUniqueOrThrow({ where: { id: user.id }, select: { uploadBytes: true } }),
    env.db.upload.aggregate({ where: { userId: user.id }, _count: true, _sum: { sizeBytes: true } }),
  ]);
  return { counter: Number(u.uploadBytes), rows: agg._count, sum: Number(agg._sum.sizeBytes ?? 0) };
}

describe('upload storage quota', () => {
  it('when uploads fill the quota, then the next one is 413 storage_quota_exceeded and nothing more is stored', async () => {
    const user = await env.createUser();
    await upload(user, memo).expect(201);
    await upload(user, memo).expect(201);
    const res = await upload(user, memo).expect(413);
    expect(res.body.error).toEqual({
      code: 'storage_quota_exceeded',
      message: expect.stringContaining('storage quota'),
      details: { quota_bytes: QUOTA, used_bytes: 2 * memo.length },
    });
    expect(await stored(user)).toEqual({ counter: 2 * memo.length, rows: 2, sum: 2 * memo.length });
  });

  it('when many uploads run at once, then only as many as fit are stored and no reservation is left behind', async () => {
    const user = await env.createUser();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => upload(user, memo, `memo-${i}.wav`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 201, 413, 413, 413, 413]);
    for (const r of results.filter((r) => r.status === 413)) expect(r.body.error.code).toBe('storage_quota_exceeded');
    expect(await stored(user)).toEqual({ counter: 2 * memo.length, rows: 2, sum: 2 * memo.length });
  });

  it('when an upload is refused for its content, then its reservation is given back', async () => {
    const user = await env.createUser();
    await upload(user, makeTextFile(), 'notes.wav').expect(415);
    expect(await stored(user)).toEqual({ counter: 0, rows: 0, sum: 0 });
    await upload(user, memo).expect(201);
    expect(await stored(user)).toEqual({ counter: memo.length, rows: 1, sum: memo.length });
  });

  it('when a body without Content-Length outgrows what is left of the quota, then the server answers 413 before the body ends', async () => {
    const user = await env.createUser();
    await upload(user, memo).expect(201);
    await upload(user, memo).expect(201);
    const left = QUOTA - 2 * memo.length;
    const { status, body, sentBeforeAnswer, total } = await chunkedUpload(user, Buffer.concat([memo, memo, memo, memo]));
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe('storage_quota_exceeded');
    // Reading stopped near what was left, long before the 1.5 MB body was through.
    expect(sentBeforeAnswer).toBeLessThan(total);
    expect(left).toBeLessThan(total);
    expect(await stored(user)).toEqual({ counter: 2 * memo.length, rows: 2, sum: 2 * memo.length });
  });
});

/** A multipart upload sent chunked (no Content-Length), 16 KB at a time, until the server answers. */
function chunkedUpload(user: TestUser, file: Buffer): Promise<{ status: number; body: string; sentBeforeAnswer: number; total: number }> {
  const boundary = 'quota-test-boundary';
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const payload = Buffer.concat([head, file, tail]);
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const req = http.request(`${env.baseUrl}/api/v1/uploads`, {
      method: 'POST',
      headers: { ...user.auth, 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Transfer-Encoding': 'chunked' },
    });
    req.on('response', (res) => {
      answered = true;
      const sentBeforeAnswer = sent;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sentBeforeAnswer, total: payload.length }));
    });
    req.on('error', (err) => (answered ? undefined : reject(err)));
    const pump = () => {
      if (answered || sent >= payload.length) return void req.end();
      const chunk = payload.subarray(sent, sent + 16 * 1024);
      sent += chunk.length;
      req.write(chunk, () => setTimeout(pump, 5));
    };
    pump();
  });
}
