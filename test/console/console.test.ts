import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { blurryPhoto, groupPhoto, samePersonSet, someoneElse } from '../fixtures/faces';
import { makeJpeg } from '../fixtures/images';
import { CHROMIUM_ARGS, collectPageProblems, findChromium } from '../helpers/chromium';
import { fundedUser } from '../helpers/factories';
import { loudSkip } from '../helpers/skip';
import { startTestEnv, type TestEnv } from '../helpers/test-env';

/**
 * The web console in a real headless Chromium against the real API and worker: what a buyer
 * does, clicking through the pages, with nothing but the public API behind them.
 */

const ROOT = path.resolve(__dirname, '../..');
const SCREENSHOT = path.join(ROOT, 'docs/console.png');
const PHOTO_COUNT = 10;

const chromiumAvailable = findChromium();
if (!chromiumAvailable.ok) loudSkip('the web console browser tests', chromiumAvailable.reason);

let env: TestEnv;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Content-Security-Policy violations and page errors: the console must cause none. */
const pageProblems: string[] = [];

(chromiumAvailable.ok ? describe : describe.skip)('the web console in a browser', () => {
  beforeAll(async () => {
    // Builds web/dist if its sources changed since the last build (a no-op otherwise).
    execFileSync('node', ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
    env = await startTestEnv({ knobs: { latency_ms: 1500, training_latency_ms: 2000 } });
    browser = await chromium.launch({ executablePath: chromiumAvailable.ok ? chromiumAvailable.path : undefined, args: CHROMIUM_ARGS, headless: true });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await env?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    collectPageProblems(page, pageProblems);
  });
  afterEach(async () => {
    await context?.close();
    expect(pageProblems).toEqual([]);
  });

  it('when a new user signs up, buys credits with a test checkout and runs a catalog model, then its progress reaches succeeded and the output downloads', async () => {
    await page.goto(`${env.baseUrl}/`);
    await page.getByLabel('Email', { exact: true }).fill(`console-${Date.now()}@example.com`);
    await page.getByRole('button', { name: 'Sign up' }).click();
    const apiKey = (await page.getByTestId('new-api-key').textContent())!;
    expect(apiKey.length).toBeGreaterThan(20);
    const auth = { Authorization: `Bearer ${apiKey}` };
    const streams: string[] = [];
    page.on('response', (r) => {
      if (r.url().endsWith('/events')) streams.push(`${r.status()} ${new URL(r.url()).pathname} ${r.headers()['content-type']}`);
    });

    await page.getByRole('navigation').getByRole('link', { name: 'Credits & plans' }).click();
    await page.getByRole('button', { name: 'Buy 100 credits' }).click();
    await page.getByRole('button', { name: 'Complete this test checkout' }).click();
    await page.getByTestId('checkout').getByText('Paid.').waitFor();
    await expectText(page.getByTestId('balance'), /^100 credits$/);

    await page.getByRole('navigation').getByRole('link', { name: 'Run a model' }).click();
    await page.getByLabel('Model', { exact: true }).selectOption('black-forest-labs/flux-schnell');
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
    await page.getByLabel('aspect_ratio', { exact: true }).selectOption('16:9');
    await page.getByRole('button', { name: 'Run', exact: true }).click();

    // Live: the page shows the job unfinished first (the model takes 1.5 s), then succeeded.
    const status = page.getByTestId('job').getByRole('status');
    await expectText(status, /^(queued|starting|running)$/);
    await expectText(status, /^succeeded$/, 60_000);
    const jobId = new URL(page.url()).searchParams.get('job')!;
    const job = (await env.api.get(`/api/v1/status/${jobId}`).set(auth).expect(200)).body;
    // It followed the job's Server-Sent Events (read with fetch, as EventSource cannot send the API key).
    expect(streams).toEqual([`200 /api/v1/jobs/${jobId}/events text/event-stream`]);
    expect(job).toMatchObject({ status: 'succeeded', model: 'black-forest-labs/flux-schnell', parameters: { aspect_ratio: '16:9' }, outputs: [expect.anything()] });

    const image = page.getByRole('img', { name: /^Output 1 of job/ });
    await image.waitFor();
    await imageLoaded(image);
    await expectText(page.getByTestId('balance'), /^98 credits$/);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /^Download output 1/ }).click()]);
    const bytes = fs.readFileSync((await download.path())!);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(job.outputs[0].sha256);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^job-${jobId.slice(0, 8)}-1\\.\\w+$`));

    // The README's screenshot: job ids and images differ per run, so it is rewritten only when
    // missing or asked for (UPDATE_SCREENSHOTS=1); other runs leave it in a temporary file.
    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    const target = process.env.UPDATE_SCREENSHOTS === '1' || !fs.existsSync(SCREENSHOT) ? SCREENSHOT : path.join(os.tmpdir(), 'console.png');
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, shot);

    await page.getByRole('navigation').getByRole('link', { name: 'Usage' }).click();
    const row = page.getByRole('row').filter({ hasText: 'black-forest-labs/flux-schnell' });
    await expectText(row.getByRole('cell').nth(3), /^2$/);
  }, 180_000);

  it('when a user signs in, then the API key is kept for this tab only (sessionStorage), never in localStorage', async () => {
    const user = await env.createUser();
    await page.goto(`${env.baseUrl}/account`);
    await page.evaluate("localStorage.setItem('imagegen.apiKey', 'igk_left_by_an_older_console')");
    await signInWithKey(user.apiKey);
    const stored = await page.evaluate("({ session: sessionStorage.getItem('imagegen.apiKey'), local: localStorage.getItem('imagegen.apiKey') })");
    expect(stored).toEqual({ session: user.apiKey, local: null });
  }, 60_000);

  it('when a user buys a plan and starts a batch, then another tab still offers both, and localStorage holds nothing of the API key (lists an older console filed under it are moved, then removed)', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    // What an earlier console left: lists named after the last 12 characters of this tab's key and of another key.
    await page.evaluate(
      `localStorage.setItem(${JSON.stringify(`imagegen.payments.${user.apiKey.slice(-12)}`)}, '["payment-of-an-older-console"]');
       localStorage.setItem('imagegen.batches.igk_other_key', '["batch-of-another-key"]')`,
    );
    await page.reload();
    await page.getByRole('navigation').waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Credits & plans' }).click();
    await page.getByRole('button', { name: 'Buy plan Starter' }).click();
    await page.getByRole('button', { name: 'Complete this test checkout' }).click();
    await page.getByTestId('checkout').getByText('Paid.').waitFor();
    const payment = await env.db.payment.findFirstOrThrow({ where: { userId: user.id } });

    await page.getByRole('navigation').getByRole('link', { name: 'Batches' }).click();
    await page.getByLabel(/^Prompts, one a line/).fill('a paper boat');
    await page.getByRole('button', { name: 'Start 1 job' }).click();
    await page.getByTestId('batch').waitFor();
    const batchId = new URL(page.url()).searchParams.get('batch')!;

    // A new tab (no sessionStorage) signed in with the same key still offers the payment and the batch.
    page = await context.newPage();
    collectPageProblems(page, pageProblems);
    await signInWithKey(user.apiKey);
    await page.getByRole('navigation').getByRole('link', { name: 'Train a model' }).click();
    await page.getByLabel('Paid plan').locator('option', { hasText: payment.id.slice(0, 8) }).waitFor({ state: 'attached' });
    await page.getByRole('navigation').getByRole('link', { name: 'Batches' }).click();
    await page.getByTestId('recent-batches').getByRole('link', { name: batchId.slice(0, 8) }).waitFor();

    const local = (await page.evaluate('Object.entries(localStorage)')) as Array<[string, string]>;
    const pieces = Array.from({ length: user.apiKey.length - 7 }, (_, i) => user.apiKey.slice(i, i + 8));
    expect(local.filter(([name, value]) => pieces.some((p) => name.includes(p) || value.includes(p)))).toEqual([]);
    expect(local.filter(([name]) => /^imagegen\.(payments|batches)\./.test(name))).toEqual([]);
    const lists = Object.fromEntries(local.map(([name, value]) => [name.replace(/\.[0-9a-f]{16}$/, '.<hash>'), JSON.parse(value)]));
    expect(lists).toMatchObject({
      'imagegen.console.payments.<hash>': [payment.id, 'payment-of-an-older-console'],
      'imagegen.console.batches.<hash>': [batchId],
    });
  }, 120_000);

  it('when the console is not in a secure context (no crypto.subtle), then it remembers a batch for this tab only, in sessionStorage', async () => {
    const user = await fundedUser(env, 10);
    // As over plain http on a non-local address: browsers offer no crypto.subtle there.
    await page.addInitScript("Object.defineProperty(globalThis.crypto, 'subtle', { value: undefined })");
    await signInWithKey(user.apiKey);
    await page.getByRole('navigation').getByRole('link', { name: 'Batches' }).click();
    await page.getByLabel(/^Prompts, one a line/).fill('a paper plane');
    await page.getByRole('button', { name: 'Start 1 job' }).click();
    const batchId = await page.waitForURL(/batch=/).then(() => new URL(page.url()).searchParams.get('batch')!);
    await page.getByTestId('recent-batches').getByRole('link', { name: batchId.slice(0, 8) }).waitFor();
    const stored = (await page.evaluate('({ local: Object.keys(localStorage), session: Object.entries(sessionStorage) })')) as { local: string[]; session: Array<[string, string]> };
    expect(stored.local.filter((name) => name.startsWith('imagegen.'))).toEqual([]);
    expect(stored.session).toContainEqual([expect.stringMatching(/^imagegen\.console\.batches\.tab-[0-9a-f]+$/), JSON.stringify([batchId])]);
  }, 60_000);

  it('when the API has no event stream, then the page reads the job every second instead and still shows it succeed', async () => {
    const user = await fundedUser(env, 10);
    await page.route('**/events', (route) => route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: { code: 'not_found', message: 'No route' } }) }));
    const reads: number[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/v1/status/')) reads.push(Date.now());
    });
    await signInWithKey(user.apiKey);
    await page.getByLabel('Prompt', { exact: true }).fill('a quiet harbour');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectText(page.getByTestId('job').getByRole('status'), /^succeeded$/, 60_000);
    await page.getByRole('img', { name: /^Output 1 of job/ }).waitFor();
    // The model takes 1.5 s: read at least once more after the first look, about a second apart.
    expect(reads.length).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('when the API takes real Stripe payments, then buying credits takes the browser to the checkout_url', async () => {
    const user = await env.createUser();
    // As an API with real Stripe keys answers (this one runs on stripe-mock); Stripe's page itself is not fetched.
    await page.route('**/api/v1/console-config', (route) => route.fulfill({ json: { test_checkout: false } }));
    await page.route('https://checkout.stripe.com/**', (route) => route.fulfill({ contentType: 'text/html', body: '<title>Stripe Checkout</title>' }));
    await signInWithKey(user.apiKey);
    await page.getByRole('navigation').getByRole('link', { name: 'Credits & plans' }).click();
    // The browser's navigation to Stripe is what counts (a request for the top frame), not that
    // the stand-in page finished loading: Chromium sometimes aborts that load as the console page unloads.
    const [navigation] = await Promise.all([
      page.waitForRequest((r) => r.isNavigationRequest() && r.frame() === page.mainFrame() && /^https:\/\/checkout\.stripe\.com\//.test(r.url())),
      page.getByRole('button', { name: 'Buy 100 credits' }).click(),
    ]);
    const purchase = await env.db.creditPurchase.findFirstOrThrow({ where: { userId: user.id } });
    expect([navigation.url(), purchase.status]).toEqual([purchase.checkoutUrl, 'pending']);
  }, 60_000);

  it('when a user uploads training photos and one is too small, then its problem is shown next to that photo; without it the model trains and takes prompts', async () => {
    const user = await env.createUser();
    await signInWithKey(user.apiKey);

    await page.getByRole('navigation').getByRole('link', { name: 'Credits & plans' }).click();
    await page.getByRole('button', { name: 'Buy plan Starter' }).click();
    await page.getByRole('button', { name: 'Complete this test checkout' }).click();
    await page.getByRole('link', { name: 'Train a model with this payment' }).click();

    const good = await Promise.all(
      Array.from({ length: PHOTO_COUNT }, async (_, i) => ({ name: `photo-${i + 1}.jpg`, mimeType: 'image/jpeg', buffer: await makeJpeg({ width: 512, height: 512 + i }) })),
    );
    const tiny = { name: 'tiny.jpg', mimeType: 'image/jpeg', buffer: await makeJpeg({ width: 200, height: 150 }) };
    await page.getByTestId('photo-input').setInputFiles([...good.slice(0, 5), tiny, ...good.slice(5)]);
    await page.getByRole('button', { name: 'Start training' }).click();

    const tinyItem = page.locator('li.photo[data-filename="tiny.jpg"]');
    await expectText(tinyItem.getByTestId('photo-problems'), /tiny\.jpg.*200.*150.*512/s);
    await expect(page.getByTestId('photo-problems').count()).resolves.toBe(1);
    await page.getByRole('alert').filter({ hasText: 'Nothing was charged' }).waitFor();
    expect(await env.db.modelVersion.count({ where: { userId: user.id } })).toBe(0);

    await page.getByRole('button', { name: 'Remove tiny.jpg' }).click();
    await page.getByRole('button', { name: 'Start training' }).click();
    await expectText(page.getByTestId('training').getByRole('status'), /^succeeded$/, 90_000);

    await page.getByRole('link', { name: 'Prompt it' }).click();
    await page.getByRole('textbox', { name: /^Prompt \(use/ }).fill('TOK on the moon');
    await page.getByRole('button', { name: 'Generate', exact: true }).click();
    await expectText(page.getByTestId('prompt').getByRole('status'), /^succeeded$/, 60_000);
    const galleryImage = page.getByRole('img', { name: 'TOK on the moon' }).first();
    await galleryImage.waitFor();
    await imageLoaded(galleryImage);
  }, 240_000);

  it('when a user chooses training photos with a blurry one, a group photo and someone else, then each finding is shown next to its thumbnail and the training is blocked until they are removed', async () => {
    const user = await env.createUser();
    await signInWithKey(user.apiKey);
    await page.getByRole('navigation').getByRole('link', { name: 'Train a model' }).click();
    // This file's service trains whatever the faces (FACE_CHECK_TRAINING=off in the tests): answer as
    // one that refuses errors does, from the real inspection's answer.
    await page.route('**/api/v1/photos/inspect', async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, json: { ...(await res.json()), training_refuses_errors: true } });
    });
    await page.getByLabel('Payment id').fill('any-payment');
    const set = [...(await samePersonSet('a')), await blurryPhoto('blurry.jpg'), await groupPhoto('group.jpg'), await someoneElse('b', 'someone-else.jpg')];
    await page.getByTestId('photo-input').setInputFiles(set.map((p) => ({ name: p.filename, mimeType: 'image/jpeg', buffer: p.buffer })));

    const flawed = [
      { filename: 'blurry.jpg', code: 'blurry', text: /^Error: blurry\.jpg: the face is blurry/ },
      { filename: 'group.jpg', code: 'multiple_faces', text: /^Error: group\.jpg shows \d+ faces/ },
      { filename: 'someone-else.jpg', code: 'different_person', text: /^Error: someone-else\.jpg seems to show someone else/ },
    ];
    for (const f of flawed) await expectText(page.locator(`li.photo[data-filename="${f.filename}"]`).locator(`[data-code="${f.code}"]`), f.text, 60_000);
    await expect(page.getByTestId('photo-findings').count()).resolves.toBe(3);
    await expectText(page.getByTestId('inspection'), /^3 errors, 0 warnings/);
    expect(await page.getByRole('button', { name: 'Start training' }).isDisabled()).toBe(true);

    for (const f of flawed) await page.getByRole('button', { name: `Remove ${f.filename}` }).click();
    await expectText(page.getByTestId('inspection'), /^Every photo looks good/, 60_000);
    expect(await page.getByRole('button', { name: 'Start training' }).isDisabled()).toBe(false);
  }, 120_000);
});

/** Signs in on the account page with an existing API key, as a returning user does. */
async function signInWithKey(apiKey: string): Promise<void> {
  await page.goto(`${env.baseUrl}/account`);
  await page.getByLabel('API key', { exact: true }).fill(apiKey);
  await page.getByRole('button', { name: 'Use this key' }).click();
  await page.getByRole('navigation').waitFor();
}

/** Waits until the image has loaded its pixels (from our bucket, under the console's CSP). */
async function imageLoaded(image: ReturnType<Page['locator']>): Promise<void> {
  const handle = await image.elementHandle();
  await image.page().waitForFunction((el) => {
    const img = el as unknown as { complete: boolean; naturalWidth: number };
    return img.complete && img.naturalWidth > 0;
  }, handle);
}

/** Waits until the element's whole text matches. */
async function expectText(locator: ReturnType<Page['locator']>, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await locator.textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null);
    if (last !== null && pattern.test(last.trim())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected text ${pattern} within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}
