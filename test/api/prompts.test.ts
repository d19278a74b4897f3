import { ledgerTotals } from '../../src/quota/ledger';
import { checkoutSessionEvent } from '../../tools/dev/stripe-test-events';
import { paidPayment, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

let env: TestEnv;
let user: TestUser;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
  user = await env.createUser();
});
afterAll(() => env?.stop());
afterEach(() => env.replicate.setKnobs({ latency_ms: 50, output_retention_ms: 3_600_000, create_rate_limit_per_minute: 0 }));

const create = (versionId: string, body: object, as: TestUser = user) => env.api.post(`/api/v1/prompts/create/${versionId}`).set(as.auth).send(body);

async function waitForPrompt(promptId: string, as: TestUser = user, timeoutMs = 30_000) {
  return eventually(async () => {
    const res = await env.api.get(`/api/v1/prompts/${promptId}`).set(as.auth).expect(200);
    return ['succeeded', 'failed', 'canceled'].includes(res.body.status) ? res.body : undefined;
  }, timeoutMs, 50);
}

async function quota(versionId: string) {
  const info = await env.api.get(`/api/v1/versions/info/${versionId}`).set(user.auth).expect(200);
  const ledger = await ledgerTotals(env.db, versionId);
  // The counters the API shows always equal the ledger's sums.
  expect({ total: info.body.images_total, used: info.body.images_used, reserved: info.body.images_reserved }).toEqual(ledger);
  expect(info.body.images_left).toBe(ledger.total - ledger.used - ledger.reserved);
  const { images_total, images_used, images_reserved, images_left } = info.body;
  return { images_total, images_used, images_reserved, images_left };
}

/** Gives a model a smaller plan: its grant (ledger and counter together) becomes `images`. */
async function limitImages(versionId: string, images: number) {
  await env.db.$transaction([
    env.db.modelVersion.update({ where: { id: versionId }, data: { imagesTotal: images } }),
    env.db.quotaLedger.updateMany({ where: { versionId, movement: 'grant' }, data: { images } }),
  ]);
}

/** Waits until the model's workflow has closed, so the next prompt is accepted. */
async function idle(versionId: string) {
  await eventually(async () => {
    const d = await env.temporal.workflow.getHandle(`prompt-${versionId}`).describe().catch(() => undefined);
    return !d || d.status.name !== 'RUNNING';
  });
}

describe('prompts on a trained model', () => {
  it('when a prompt asks for 4 images, then 4 images are stored in our bucket and the quota moves by exactly 4', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await create(version.id, { prompt: 'TOK as an astronaut', num_outputs: 4, seed: 7, width: 512, height: 768 }).expect(202);
    expect(res.body).toEqual({ prompt_id: expect.any(String), status: 'queued' });
    expect(res.headers.location).toBe(`/api/v1/prompts/${res.body.prompt_id}`);

    const prompt = await waitForPrompt(res.body.prompt_id);
    expect(prompt).toMatchObject({ status: 'succeeded', error: null, num_outputs: 4, seed: 7, width: 512, height: 768 });
    expect(prompt.images).toHaveLength(4);
    for (const image of prompt.images) {
      expect(image).toMatchObject({ width: 512, height: 768, content_type: expect.stringMatching(/^image\//) });
      expect((await fetch(image.url)).status).toBe(200);
    }
    await idle(version.id);
    expect(await quota(version.id)).toEqual({ images_total: 50, images_used: 4, images_reserved: 0, images_left: 46 });
    const ledger = await env.db.quotaLedger.findMany({ where: { promptId: res.body.prompt_id }, orderBy: { createdAt: 'asc' } });
    expect(ledger.map((l) => [l.movement, l.images]).sort()).toEqual([['commit', 4], ['release', 0], ['reserve', 4]]);
  });

  it('when a second prompt arrives while one runs on the same model, then 409 version_busy and nothing starts; the next one after it is accepted', async () => {
    const version = await trainedVersion(env.db, user.id);
    const first = await create(version.id, { prompt: 'slow', parameters: { fake_latency_ms: 1500 } }).expect(202);
    const second = await create(version.id, { prompt: 'too soon' }).expect(409);
    expect(second.body.error.code).toBe('version_busy');
    expect(await env.db.prompt.count({ where: { versionId: version.id } })).toBe(1);

    await waitForPrompt(first.body.prompt_id);
    await idle(version.id);
    const third = await create(version.id, { prompt: 'my turn' }).expect(202);
    expect((await waitForPrompt(third.body.prompt_id)).status).toBe('succeeded');
  });

  it('when several models get prompts at the same time, then all of them run', async () => {
    const versions = await Promise.all([1, 2, 3].map(() => trainedVersion(env.db, user.id)));
    const accepted = await Promise.all(versions.map((v) => create(v.id, { prompt: 'together', num_outputs: 2 }).expect(202)));
    const done = await Promise.all(accepted.map((r) => waitForPrompt(r.body.prompt_id)));
    expect(done.map((p) => [p.status, p.images.length])).toEqual([['succeeded', 2], ['succeeded', 2], ['succeeded', 2]]);
  });

  it('when the prediction fails, then its reservation is released and nothing is used', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await create(version.id, { prompt: 'x', num_outputs: 3, parameters: { fake_error: 'NSFW content detected' } }).expect(202);
    const prompt = await waitForPrompt(res.body.prompt_id);
    expect(prompt).toMatchObject({ status: 'failed', images: [], error: { code: 'prediction_failed', message: 'NSFW content detected' } });
    await idle(version.id);
    expect(await quota(version.id)).toMatchObject({ images_used: 0, images_reserved: 0, images_left: 50 });
  });

  it('when a running prompt is canceled, then the prediction is canceled and the reservation released', async () => {
    const version = await trainedVersion(env.db, user.id);
    const res = await create(version.id, { prompt: 'slow', num_outputs: 2, parameters: { fake_latency_ms: 30_000 } }).expect(202);
    await eventually(async () => (await env.db.prompt.findUnique({ where: { id: res.body.prompt_id } }))?.status === 'running');
    expect((await quota(version.id)).images_reserved).toBe(2);

    await env.api.delete(`/api/v1/prompts/${res.body.prompt_id}`).set(user.auth).expect(202);
    const prompt = await waitForPrompt(res.body.prompt_id);
    expect(prompt.status).toBe('canceled');
    await idle(version.id);
    expect(await quota(version.id)).toMatchObject({ images_used: 0, images_reserved: 0, images_left: 50 });
    expect(env.replicate.stats().predictions_canceled).toBeGreaterThan(0);
    expect((await env.api.delete(`/api/v1/prompts/${res.body.prompt_id}`).set(user.auth).expect(409)).body.error.code).toBe('prompt_already_finished');
  });

  it('when the images run out, then asking for more than is left gets 402 and starts nothing, and exactly what is left succeeds', async () => {
    const version = await trainedVersion(env.db, user.id);
    await limitImages(version.id, 7);
    const run = async (n: number) => {
      const r = await create(version.id, { prompt: `${n} images`, num_outputs: n }).expect(202);
      await waitForPrompt(r.body.prompt_id);
      await idle(version.id);
    };
    await run(4);
    expect((await quota(version.id)).images_left).toBe(3);

    const refused = await create(version.id, { prompt: 'four more' , num_outputs: 4 }).expect(402);
    expect(refused.body.error).toMatchObject({ code: 'quota_exceeded', details: { needed: 4, available: 3 } });
    expect(await env.db.prompt.count({ where: { versionId: version.id, prompt: 'four more' } })).toBe(0);

    await run(3);
    expect(await quota(version.id)).toEqual({ images_total: 7, images_used: 7, images_reserved: 0, images_left: 0 });
    expect((await create(version.id, { prompt: 'one more' }).expect(402)).body.error.details).toEqual({ needed: 1, available: 0 });
  });

  it('when many requests race for the last images of a model, then never more images are used than bought', async () => {
    const version = await trainedVersion(env.db, user.id, 'starter');
    await limitImages(version.id, 3);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => create(version.id, { prompt: `race ${i}`, num_outputs: 2 })));
    const accepted = results.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error.code === 'version_busy')).toBe(true);
    await waitForPrompt(accepted[0]!.body.prompt_id);
    await idle(version.id);
    const after = await Promise.all(Array.from({ length: 4 }, () => create(version.id, { prompt: 'last', num_outputs: 2 })));
    expect(after.map((r) => r.status).sort()).toEqual([402, 402, 402, 402]);
    expect(await quota(version.id)).toEqual({ images_total: 3, images_used: 2, images_reserved: 0, images_left: 1 });
  });

  it('when an add-on is paid, then the model can generate more', async () => {
    const version = await trainedVersion(env.db, user.id);
    const addOn = await paidPayment(env.db, user.id, 'more-50', { versionId: version.id });
    await env.db.payment.update({ where: { id: addOn.id }, data: { status: 'pending', paidAt: null } });
    const event = checkoutSessionEvent({ paymentId: addOn.id, type: 'checkout.session.completed', paymentStatus: 'paid', amountCents: 900, currency: 'usd', email: user.email });
    await env.deliverStripeEvent(event).expect(200);
    expect(await quota(version.id)).toMatchObject({ images_total: 100, images_left: 100 });
  });

  it('when a model is not trained or not the caller\'s, then 409 version_not_ready or 404', async () => {
    const version = await trainedVersion(env.db, user.id);
    await env.db.modelVersion.update({ where: { id: version.id }, data: { status: 'training' } });
    expect((await create(version.id, { prompt: 'x' }).expect(409)).body.error.code).toBe('version_not_ready');
    const other = await env.createUser();
    const mine = await trainedVersion(env.db, user.id);
    await create(mine.id, { prompt: 'x' }, other).expect(404);
    await env.api.get(`/api/v1/prompts/list/${mine.id}`).set(other.auth).expect(404);
    expect((await create(mine.id, { prompt: '' }).expect(422)).body.error.code).toBe('validation_failed');
    expect((await create(mine.id, { prompt: 'x', num_outputs: 5 }).expect(422)).body.error.code).toBe('validation_failed');
    expect((await create(mine.id, { prompt: 'x', width: 100 }).expect(422)).body.error.code).toBe('validation_failed');
  });
});

describe('the gallery', () => {
  it('lists prompts newest first with their images, page by page, each page in exactly one query, and images outlive the provider', async () => {
    const version = await trainedVersion(env.db, user.id, 'pro');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await create(version.id, { prompt: `gallery ${i}`, num_outputs: (i % 2) + 1, parameters: { fake_latency_ms: 0 } }).expect(202);
      ids.push(r.body.prompt_id);
      await waitForPrompt(r.body.prompt_id);
      await idle(version.id);
    }
    // The provider deletes its copies (Replicate does after an hour).
    env.replicate.setKnobs({ output_retention_ms: 1 });
    const prediction = (await env.db.prompt.findUniqueOrThrow({ where: { id: ids[0]! } })).providerPredictionId;
    await eventually(async () => (await fetch(`${env.replicate.url}/files/${prediction}/0.webp`)).status === 404);

    const seen: any[] = [];
    let cursor: string | null = null;
    do {
      const before = env.queries.length;
      const res: any = await env.api.get(`/api/v1/prompts/list/${version.id}?limit=2${cursor ? `&cursor=${cursor}` : ''}`).set(user.auth).expect(200);
      const listing = env.queries.slice(before).filter((q) => /prompt/i.test(q));
      expect(listing).toHaveLength(1);
      seen.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor);

    expect(seen.map((p) => p.prompt_id)).toEqual(ids.slice().reverse());
    expect(seen.map((p) => p.images.length)).toEqual([1, 2, 1, 2, 1]);
    for (const p of seen) {
      expect(p).toMatchObject({ prompt: expect.stringMatching(/^gallery/), status: 'succeeded', created_at: expect.any(String) });
      for (const image of p.images) {
        expect(image).toEqual({ id: expect.any(String), url: expect.any(String), width: expect.any(Number), height: expect.any(Number), content_type: expect.stringMatching(/^image\//) });
        expect((await fetch(image.url)).status).toBe(200);
      }
    }
    const empty = await trainedVersion(env.db, user.id);
    expect((await env.api.get(`/api/v1/prompts/list/${empty.id}`).set(user.auth).expect(200)).body).toEqual({ items: [], next_cursor: null });
  });
});

describe('a 429 storm from the provider', () => {
  it('then every prompt of a burst from many users queues and completes', async () => {
    env.replicate.setKnobs({ create_rate_limit_per_minute: 2, rate_limit_window_ms: 1000, latency_ms: 20 });
    const users = await Promise.all([1, 2, 3, 4].map(() => env.createUser()));
    const versions = await Promise.all(users.flatMap((u) => [trainedVersion(env.db, u.id), trainedVersion(env.db, u.id)]));
    const owners = users.flatMap((u) => [u, u]);
    const accepted = await Promise.all(versions.map((v, i) => create(v.id, { prompt: 'burst' }, owners[i]).expect(202)));
    const done = await Promise.all(accepted.map((r, i) => waitForPrompt(r.body.prompt_id, owners[i], 60_000)));
    expect(done.every((p) => p.status === 'succeeded' && p.images.length === 1)).toBe(true);
    expect(env.replicate.stats().rate_limited_creates).toBeGreaterThan(0);
  });
});
