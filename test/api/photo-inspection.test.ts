import sharp from 'sharp';
import type { Test } from 'supertest';
import { blurryPhoto, groupPhoto, samePersonSet, someoneElse, type FacePhoto } from '../fixtures/faces';
import { TRAINING_IMAGE_MAX_SIDE } from '../../src/images/prepare';
import { paidPayment } from '../helpers/factories';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { readObject } from '../helpers/zip';

/**
 * POST /photos/inspect and the training upload's face checks, through the real API, thread pool and
 * model, on photos built from the real sample photos inside @vladmandic/face-api.
 */
let env: TestEnv;
let user: TestUser;
let same: FacePhoto[];
let flawed: FacePhoto[];

beforeAll(async () => {
  env = await startTestEnv({ env: { FACE_CHECK_TRAINING: 'enforce' } });
  user = await env.createUser();
  same = await samePersonSet('a');
  flawed = [...same.slice(0, 7), await blurryPhoto('blurry.jpg'), await groupPhoto('party.jpg'), await someoneElse('b', 'cousin.jpg')];
}, 120_000);
afterAll(() => env?.stop());

function upload(path: string, photos: FacePhoto[], as: TestUser = user): Test {
  let req = env.api.post(path).set(as.auth);
  for (const p of photos) req = req.attach('images', p.buffer, p.filename);
  return req;
}

const THREE_PROBLEMS = [
  { index: 7, filename: 'blurry.jpg', code: 'blurry', severity: 'error' },
  { index: 8, filename: 'party.jpg', code: 'multiple_faces', severity: 'error' },
  { index: 9, filename: 'cousin.jpg', code: 'different_person', severity: 'error' },
];
const brief = (findings: Array<Record<string, unknown>>) => findings.map(({ index, filename, code, severity }) => ({ index, filename, code, severity }));

describe('when a newcomer inspects a set with a blurry photo, a group photo and a photo of someone else', () => {
  it('then one answer names all three, with what to fix, and nothing is stored or started', async () => {
    const res = await upload('/api/v1/photos/inspect', flawed).expect(200);
    expect(res.body).toMatchObject({ ok: false, errors: 3, warnings: 0, training_refuses_errors: true });
    expect(brief(res.body.findings)).toEqual(THREE_PROBLEMS);
    expect(res.body.photos).toHaveLength(10);
    expect(res.body.photos[8]).toMatchObject({ index: 8, filename: 'party.jpg', findings: [expect.objectContaining({ code: 'multiple_faces' })] });
    expect(res.body.photos[0]).toMatchObject({ faces: 1, findings: [], face: { box: expect.any(Object), sharpness: expect.any(Number) } });
    for (const f of res.body.findings) expect(f.message).toContain(f.filename);
    expect(await env.db.modelVersion.count()).toBe(0);
  }, 120_000);
});

describe('when the same set is uploaded for training', () => {
  it('then it is refused with 422 invalid_images and every finding, and the payment stays unused', async () => {
    const payment = await paidPayment(env.db, user.id);
    const res = await upload(`/api/v1/versions/train/${payment.id}`, flawed).expect(422);
    expect(res.body.error.code).toBe('invalid_images');
    expect(res.body.error.message).toMatch(/^3 photos have problems/);
    expect(brief(res.body.error.details.findings)).toEqual(THREE_PROBLEMS);
    expect(await env.db.modelVersion.count({ where: { paymentId: payment.id } })).toBe(0);
  }, 120_000);
});

describe('when ten photos of one person are uploaded for training', () => {
  it('then the training starts, with each photo stored as its inspection prepared it from the same decode (upright JPEG, no metadata)', async () => {
    const payment = await paidPayment(env.db, user.id);
    const res = await upload(`/api/v1/versions/train/${payment.id}`, same).expect(202);
    expect(res.body).toMatchObject({ version_id: expect.any(String), status: 'queued' });
    const row = await env.db.modelVersion.findUniqueOrThrow({ where: { id: res.body.version_id } });
    for (let i = 0; i < same.length; i++) {
      const stored = await readObject(env.runtime.storage, `${row.uploadPrefix}/${String(i + 1).padStart(4, '0')}.jpg`);
      const [meta, original] = await Promise.all([sharp(stored).metadata(), sharp(same[i]!.buffer).metadata()]);
      expect([meta.format, meta.exif, meta.icc]).toEqual(['jpeg', undefined, undefined]);
      // Upright and at most the trainer's side, in the original's proportions.
      expect(Math.max(meta.width!, meta.height!)).toBe(Math.min(TRAINING_IMAGE_MAX_SIDE, Math.max(original.width!, original.height!)));
      expect(meta.width! / meta.height!).toBeCloseTo(original.width! / original.height!, 2);
    }
  }, 120_000);
});

describe('when the inspection gets what is not a set of photos', () => {
  it('then a body that is not multipart is a 4xx, and a file that is not an image is a finding of its own', async () => {
    const notMultipart = await env.api.post('/api/v1/photos/inspect').set(user.auth).set('Content-Type', 'application/json').send('{"images":[]}');
    expect(notMultipart.status).toBeGreaterThanOrEqual(400);
    expect(notMultipart.status).toBeLessThan(500);
    const res = await upload('/api/v1/photos/inspect', [same[0]!, { filename: 'notes.txt', buffer: Buffer.from('not a photo') }]).expect(200);
    expect(brief(res.body.findings)).toEqual([
      { index: 1, filename: 'notes.txt', code: 'unsupported_type', severity: 'error' },
      { index: null, filename: null, code: 'too_few_images', severity: 'error' },
    ]);
  }, 60_000);

  it('then without an API key it is a 401', async () => {
    await env.api.post('/api/v1/photos/inspect').attach('images', same[0]!.buffer, 'a.jpg').expect(401);
  });
});
