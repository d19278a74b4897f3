import { setTimeout as sleep } from 'node:timers/promises';
import { BUILTIN_MODELS } from '../../tools/replicate-local/server';
import { rawApi, startLocal, type Local, type Prediction } from './helpers';

const FLUX = 'black-forest-labs/flux-schnell';
const TRAINER = BUILTIN_MODELS.find((m) => m.kind === 'lora-trainer')!;
const [TRAINER_OWNER = '', TRAINER_NAME = ''] = TRAINER.ref.split('/');
/** Long enough that listed jobs never run (no model work during the test); close() stops them. */
const PARKED = { fake_latency_ms: 600_000 };

let t: Local;

beforeEach(async () => {
  t = await startLocal();
});

afterEach(async () => {
  await t.local.close();
});

/** Creates `count` parked predictions one after another and returns their ids, oldest first. */
async function createPredictions(count: number, prompt = 'listed'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await t.replicate.predictions.create({ model: FLUX, input: { prompt: `${prompt} ${i}`, ...PARKED } })).id);
  return ids;
}

async function listPath(route: string): Promise<{ next: string | null; previous: string | null; results: Prediction[] }> {
  const response = await rawApi(t.local, route);
  expect(response.status).toBe(200);
  return (await response.json()) as { next: string | null; previous: string | null; results: Prediction[] };
}

test('when listing predictions, then each entry equals the prediction GET returns, input included', async () => {
  const [id = ''] = await createPredictions(1, 'shape');
  const page = await t.replicate.predictions.list();
  expect(page).toMatchObject({ next: null, previous: null });
  expect(page.results).toEqual([await t.replicate.predictions.get(id)]);
  expect(page.results[0]!.input).toEqual({ prompt: 'shape 0', ...PARKED });
});

test('when created_after and created_before are given, then only predictions created in [after, before) are listed, newest first', async () => {
  const [first = ''] = await createPredictions(1, 'early');
  await sleep(20);
  const [second = '', third = ''] = await createPredictions(2, 'late');
  const { created_at: secondCreated } = await t.replicate.predictions.get(second);

  const after = await listPath(`/predictions?created_after=${encodeURIComponent(secondCreated)}`);
  expect(after.results.map((p) => p.id)).toEqual([third, second]);
  const before = await listPath(`/predictions?created_before=${encodeURIComponent(secondCreated)}`);
  expect(before.results.map((p) => p.id)).toEqual([first]);
  const both = await listPath(`/predictions?created_after=${encodeURIComponent(secondCreated)}&created_before=${encodeURIComponent(secondCreated)}`);
  expect(both.results).toEqual([]);
});

test('when there are more predictions than a page, then next/previous cursor URLs and client.paginate walk them newest first without gaps or repeats', async () => {
  const ids = await createPredictions(201);
  const newestFirst = [...ids].reverse();

  const firstPage = await t.replicate.predictions.list();
  expect(firstPage.results.map((p) => p.id)).toEqual(newestFirst.slice(0, 100));
  expect(firstPage.previous).toBeNull();
  expect(firstPage.next).toMatch(new RegExp(`^${t.local.apiBaseUrl}/predictions\\?cursor=[A-Za-z0-9_-]+$`));

  const [newcomer = ''] = await createPredictions(1, 'newcomer');
  const secondPage = await listPath(firstPage.next!.slice(t.local.apiBaseUrl.length));
  expect(secondPage.results.map((p) => p.id)).toEqual(newestFirst.slice(100, 200));
  const back = await listPath(secondPage.previous!.slice(t.local.apiBaseUrl.length));
  expect(back.results.map((p) => p.id)).toEqual(newestFirst.slice(0, 100));

  const walked: string[] = [];
  for await (const page of t.replicate.paginate(() => t.replicate.predictions.list())) walked.push(...page.map((p) => p.id));
  expect(walked).toEqual([newcomer, ...newestFirst]);
});

test('when paging through a created_after filter, then the next page keeps the filter', async () => {
  await createPredictions(3, 'old');
  await sleep(20);
  const since = new Date().toISOString();
  const recent = await createPredictions(101, 'recent');

  const first = await listPath(`/predictions?created_after=${encodeURIComponent(since)}`);
  const second = await listPath(first.next!.slice(t.local.apiBaseUrl.length));
  expect([...first.results, ...second.results].map((p) => p.id)).toEqual([...recent].reverse());
  expect(second.next).toBeNull();
});

test('when listing trainings, then trainings.list and paginate return them newest first with their input', async () => {
  await t.replicate.models.create('me', 'listed-lora', { visibility: 'private', hardware: 'gpu-t4' });
  const create = (trigger: string) =>
    t.replicate.trainings.create(TRAINER_OWNER, TRAINER_NAME, TRAINER.version, {
      destination: 'me/listed-lora',
      input: { input_images: 'https://example.com/images.zip', trigger_word: trigger, ...PARKED },
    });
  const older = await create('OLD');
  const newer = await create('NEW');

  const page = await t.replicate.trainings.list();
  expect(page.results.map((tr) => tr.id)).toEqual([newer.id, older.id]);
  expect(page.results[0]).toEqual(await t.replicate.trainings.get(newer.id));
  const walked: string[] = [];
  for await (const results of t.replicate.paginate(() => t.replicate.trainings.list())) walked.push(...results.map((tr) => tr.id));
  expect(walked).toEqual([newer.id, older.id]);
  expect((await t.replicate.predictions.list()).results).toEqual([]);
});

test('when created_after or the cursor is malformed, then the list answers 400 and names the problem', async () => {
  const badDate = await rawApi(t.local, '/predictions?created_after=yesterday');
  expect(badDate.status).toBe(400);
  expect(await badDate.json()).toMatchObject({ status: 400, detail: expect.stringContaining('created_after') });
  const badCursor = await rawApi(t.local, '/trainings?cursor=not-a-cursor');
  expect(badCursor.status).toBe(400);
  expect(await badCursor.json()).toMatchObject({ status: 400, detail: expect.stringContaining('cursor') });
});
