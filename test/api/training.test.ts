import { ApplicationFailure } from '@temporalio/common';
import type { Test } from 'supertest';
import { checkoutSessionEvent } from '../../tools/dev/stripe-test-events';
import { ledgerTotals } from '../../src/quota/ledger';
import sharp from 'sharp';
import { makeBomb, makeGif, makeJpeg, makePng, makeTextFile, makeWebp, truncate } from '../fixtures/images';
import { paidPayment, photos } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';
import { readObject, zipEntries } from '../helpers/zip';

let env: TestEnv;
let user: TestUser;
/** Trigger words whose provider training must fail once (fault injection around the real activity). */
const failOnce = new Set<string>();
/** Trigger words whose training runs long enough to watch its progress. */
const SLOW = 'SKS';

beforeAll(async () => {
  env = await startTestEnv({
    knobs: { latency_ms: 20, training_latency_ms: 1200 },
    env: { JOB_POLL_INTERVAL_MS: '150', TRAINING_MAX_FILE_BYTES: String(400 * 1024) },
    activities: (real) => ({
      createTraining: async (req) => {
        const fail = failOnce.has(req.triggerWord);
        failOnce.delete(req.triggerWord);
        if (fail) return real.createTraining({ ...req, extraInput: { fake_error: 'Training diverged (simulated)' } });
        return real.createTraining(req.triggerWord === SLOW ? { ...req, extraInput: { fake_latency_ms: 3000 } } : req);
      },
    }),
  });
  user = await env.createUser();
});
afterAll(() => env?.stop());

function train(paymentId: string, files: Array<[Buffer, string]>, as: TestUser = user, triggerWord?: string): Test {
  let req = env.api.post(`/api/v1/versions/train/${paymentId}`).set(as.auth);
  if (triggerWord) req = req.field('trigger_word', triggerWord);
  for (const [buf, name] of files) req = req.attach('images', buf, name);
  return req;
}
const named = (bufs: Buffer[], ext = 'jpg') => bufs.map((b, i) => [b, `photo-${i + 1}.${ext}`] as [Buffer, string]);

async function waitForVersion(versionId: string, as: TestUser = user) {
  return eventually(async () => {
    const res = await env.api.get(`/api/v1/versions/info/${versionId}`).set(as.auth).expect(200);
    return ['succeeded', 'failed', 'canceled'].includes(res.body.status) ? res.body : undefined;
  }, 30_000, 100);
}

describe('training a model', () => {
  it('when a user buys a plan, Stripe confirms it and they upload photos, then the whole flow ends in a trained model', async () => {
    const buyer = await env.createUser();
    const plans = await env.api.get('/api/v1/plans').expect(200);
    const pro = plans.body.items.find((p: { id: string }) => p.id === 'pro');
    const created = await env.api.post('/api/v1/payments/create').set(buyer.auth).send({ plan_id: 'pro' }).expect(201);
    expect(created.body).toMatchObject({ status: 'pending', checkout_url: expect.any(String), promocode_applied: false });
    const paymentId = created.body.payment_id;

    // Before Stripe confirms, nothing can be trained.
    expect((await train(paymentId, named(await photos(10)), buyer).expect(409)).body.error.code).toBe('payment_not_paid');

    const event = checkoutSessionEvent({ paymentId, type: 'checkout.session.completed', paymentStatus: 'paid', amountCents: pro.price_cents, currency: 'usd', email: buyer.email });
    await env.deliverStripeEvent(event).expect(200);
    expect((await env.api.get(`/api/v1/payments/${paymentId}`).set(buyer.auth).expect(200)).body.status).toBe('paid');

    const started = await train(paymentId, named(await photos(12)), buyer, 'ZXQ').expect(202);
    const info = await waitForVersion(started.body.version_id, buyer);
    expect(info).toMatchObject({ status: 'succeeded', plan_id: 'pro', image_count: 12, images_total: pro.images, images_left: pro.images, trigger_word: 'ZXQ' });
  });

  it('when a paid base plan gets 10 good photos, then the model trains and its plan images become its quota', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const res = await train(payment.id, named(await photos(10)), user, SLOW).expect(202);
    expect(res.body).toEqual({ version_id: expect.any(String), status: 'queued' });
    expect(res.headers.location).toBe(`/api/v1/versions/info/${res.body.version_id}`);

    const progress: number[] = [];
    const info = await eventually(async () => {
      const r = await env.api.get(`/api/v1/versions/info/${res.body.version_id}`).set(user.auth).expect(200);
      if (typeof r.body.progress === 'number') progress.push(r.body.progress);
      return r.body.status === 'succeeded' ? r.body : undefined;
    }, 30_000, 50);
    expect(info).toMatchObject({
      version_id: res.body.version_id,
      trigger_word: SLOW,
      plan_id: 'starter',
      image_count: 10,
      images_total: 50,
      images_used: 0,
      images_reserved: 0,
      images_left: 50,
      error: null,
      progress: 100,
      provider_model: `imagegen-test/model-${res.body.version_id}`,
      provider_version: expect.stringMatching(/^[a-f0-9]{64}$/),
      trained_at: expect.any(String),
    });
    expect(progress.some((p) => p > 0 && p < 100)).toBe(true);

    const row = await env.db.modelVersion.findUniqueOrThrow({ where: { id: res.body.version_id } });
    expect(await ledgerTotals(env.db, row.id)).toEqual({ total: 50, used: 0, reserved: 0 });
    expect(await env.runtime.storage.exists(row.zipKey!)).toBe(true);

    // Predictions work on the trained version at the provider.
    const prediction = await fetch(`${env.replicate.apiBaseUrl}/predictions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({ version: info.provider_version, input: { prompt: 'SKS on a beach' } }),
    });
    expect(prediction.status).toBe(201);

    // Operators find it in the Temporal UI by payment or model.
    const found = await env.temporal.workflow.count(`PaymentId = "${payment.id}" AND JobKind = "training"`);
    expect(found.count).toBe(1);

    const list = await env.api.get('/api/v1/versions').set(user.auth).expect(200);
    expect(list.body.items.map((v: { version_id: string }) => v.version_id)).toContain(res.body.version_id);

    const again = await train(payment.id, named(await photos(10))).expect(409);
    expect(again.body.error).toMatchObject({ code: 'payment_already_used', details: { version_id: res.body.version_id } });
  });

  it('when the photos are JPEG (one turned by EXIF, with a GPS position), PNG and WebP, then each is stored once as the trainer gets it (upright JPEG, no metadata) and the zip packs exactly those bytes', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const phone = await makeJpeg({ width: 1000, height: 600, orientation: 6, gps: true });
    const files: Array<[Buffer, string]> = [
      ...named(await photos(8)),
      [phone, 'phone.jpg'],
      [await makePng({ width: 600, height: 520 }), 'scan.png'],
      [await makeWebp({ width: 520, height: 640 }), 'web.webp'],
    ];
    const res = await train(payment.id, files).expect(202);
    const info = await waitForVersion(res.body.version_id);
    expect(info.status).toBe('succeeded');

    const row = await env.db.modelVersion.findUniqueOrThrow({ where: { id: res.body.version_id } });
    const entries = await zipEntries(env.runtime.storage, row.zipKey!);
    expect(entries.size).toBe(files.length);
    for (let i = 0; i < files.length; i++) {
      const name = `${String(i + 1).padStart(4, '0')}.jpg`;
      const stored = await readObject(env.runtime.storage, `${row.uploadPrefix}/${name}`);
      expect(entries.get(name)!.equals(stored)).toBe(true);
      const meta = await sharp(stored).metadata();
      expect([meta.format, meta.orientation, meta.exif, meta.xmp, meta.icc]).toEqual(['jpeg', undefined, undefined, undefined, undefined]);
    }
    // The phone photo was stored 1000×600 turned by its EXIF: upright, it is 600×1000.
    expect(await sharp(entries.get('0009.jpg')!).metadata()).toMatchObject({ width: 600, height: 1000 });
  });

  it('when the same payment is sent to train several times at once, then exactly one training starts', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const files = named(await photos(10));
    const results = await Promise.all([1, 2, 3].map(() => train(payment.id, files)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([202, 409, 409]);
    for (const r of results.filter((x) => x.status === 409)) expect(['training_in_progress', 'payment_already_used']).toContain(r.body.error.code);
    expect(await env.db.modelVersion.count({ where: { paymentId: payment.id } })).toBe(1);
    const winner = results.find((r) => r.status === 202)!;
    expect((await waitForVersion(winner.body.version_id)).status).toBe('succeeded');
  });

  it('when the training fails, then the error is recorded, nothing is granted, and the same payment may train again', async () => {
    const payment = await paidPayment(env.db, user.id, 'pro');
    failOnce.add('FAILME');
    const first = await train(payment.id, named(await photos(10)), user, 'FAILME').expect(202);
    const failed = await waitForVersion(first.body.version_id);
    expect(failed).toMatchObject({ status: 'failed', images_total: 0, error: { code: 'training_failed', message: 'Training diverged (simulated)' } });
    const failure = await env.temporal.workflow.getHandle(`train-${payment.id}`, undefined).result().catch((e) => e);
    expect(failure.cause).toBeInstanceOf(ApplicationFailure);

    const second = await train(payment.id, named(await photos(10)), user, 'FAILME').expect(202);
    expect(second.body.version_id).not.toBe(first.body.version_id);
    const ok = await waitForVersion(second.body.version_id);
    expect(ok).toMatchObject({ status: 'succeeded', images_total: 200 });
  });
});

describe('refusing a training', () => {
  it('when some photos are bad, then one 422 lists every problem of every file and nothing is consumed', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const good = await photos(8);
    const files: Array<[Buffer, string]> = [
      ...named(good),
      [await makeJpeg({ width: 400, height: 300 }), 'small.jpg'],
      [makeTextFile(), 'notes.jpg'],
      [await makeGif({ width: 600, height: 600 }), 'anim.gif'],
      [truncate(await makeJpeg({ width: 600, height: 600, noise: true }), 5000), 'cut.jpg'],
      [makeBomb(), 'bomb.png'],
      [good[0]!, 'copy-of-photo-1.jpg'],
      [await makeJpeg({ width: 1500, height: 1500, noise: true }), 'huge.jpg'],
    ];
    const res = await train(payment.id, files).expect(422);
    expect(res.body.error.code).toBe('invalid_images');
    expect(res.body.error.message).toMatch(/7 photos have problems/);
    const byFile = Object.fromEntries(
      res.body.error.details.files.map((f: { filename: string; issues: { code: string }[] }) => [f.filename, f.issues.map((i) => i.code)]),
    );
    expect(byFile).toEqual({
      'small.jpg': ['too_small'],
      'notes.jpg': ['unsupported_type'],
      'anim.gif': ['unsupported_type'],
      'cut.jpg': ['unreadable'],
      'bomb.png': ['too_many_pixels'],
      'copy-of-photo-1.jpg': ['duplicate'],
      'huge.jpg': ['file_too_large'],
    });
    expect(await env.db.modelVersion.count({ where: { paymentId: payment.id } })).toBe(0);
    expect((await env.temporal.workflow.count(`PaymentId = "${payment.id}"`)).count).toBe(0);
    expect((await env.db.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe('paid');
  });

  it('when a photo passes the header checks but its data is damaged inside, then 422 names it unreadable, nothing is stored and the payment stays unused', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const damaged = Buffer.from(await makeJpeg({ width: 600, height: 600, noise: true }));
    damaged.fill(0xff, damaged.length >> 1, (damaged.length >> 1) + 200); // headers and end marker intact
    const res = await train(payment.id, [...named(await photos(9)), [damaged, 'damaged.jpg']]).expect(422);
    expect(res.body.error).toMatchObject({
      code: 'invalid_images',
      details: { files: [{ filename: 'damaged.jpg', issues: [{ code: 'unreadable', message: expect.stringContaining('damaged.jpg') }] }], problems: [] },
    });
    expect(await env.db.modelVersion.count({ where: { paymentId: payment.id } })).toBe(0);
    expect((await env.temporal.workflow.count(`PaymentId = "${payment.id}"`)).count).toBe(0);
  });

  it.each([
    [3, 'too_few_images'],
    [31, 'too_many_images'],
  ])('when %i photos are sent, then 422 %s', async (count, code) => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const res = await train(payment.id, named(await photos(count))).expect(422);
    expect(res.body.error.details.problems.map((p: { code: string }) => p.code)).toEqual([code]);
  });

  it('when the payment is not the caller\'s, then 404', async () => {
    const other = await env.createUser();
    const payment = await paidPayment(env.db, other.id, 'starter');
    expect((await train(payment.id, named(await photos(10))).expect(404)).body.error.code).toBe('not_found');
  });

  it('when the payment is pending, then 409 payment_not_paid', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    await env.db.payment.update({ where: { id: payment.id }, data: { status: 'pending' } });
    expect((await train(payment.id, named(await photos(10))).expect(409)).body.error.code).toBe('payment_not_paid');
  });

  it('when the payment bought an add-on, then 422 plan_not_trainable', async () => {
    const payment = await paidPayment(env.db, user.id, 'more-50');
    expect((await train(payment.id, named(await photos(10))).expect(422)).body.error.code).toBe('plan_not_trainable');
  });

  it('when the trigger word is invalid or the body is not multipart, then a clear 4xx', async () => {
    const payment = await paidPayment(env.db, user.id, 'starter');
    const bad = await train(payment.id, named(await photos(10)), user, 'no spaces!').expect(422);
    expect(bad.body.error.message).toMatch(/trigger_word/);
    const json = await env.api.post(`/api/v1/versions/train/${payment.id}`).set(user.auth).send({ images: [] }).expect(415);
    expect(json.body.error.code).toBe('unsupported_media_type');
    expect(await env.db.modelVersion.count({ where: { paymentId: payment.id } })).toBe(0);
  });

  it("when another user asks for a model, then 404", async () => {
    const other = await env.createUser();
    const payment = await paidPayment(env.db, user.id, 'starter');
    const res = await train(payment.id, named(await photos(10))).expect(202);
    await env.api.get(`/api/v1/versions/info/${res.body.version_id}`).set(other.auth).expect(404);
    const list = await env.api.get('/api/v1/versions').set(other.auth).expect(200);
    expect(list.body.items).toEqual([]);
    await waitForVersion(res.body.version_id);
  });
});
