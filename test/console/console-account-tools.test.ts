import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { startReceiver } from '../events/webhook-receiver';
import { CHROMIUM_ARGS, collectPageProblems, findChromium } from '../helpers/chromium';
import { fundedUser } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { loudSkip } from '../helpers/skip';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * The console's tools for developers, in a real headless Chromium against the real API and
 * worker: API keys (create, name, budget, rotate, revoke), sync runs with a spend cap, webhook
 * deliveries (test events, redelivery), batches and output deletion.
 */

const ROOT = path.resolve(__dirname, '../..');
const MODEL = 'black-forest-labs/flux-schnell';

const chromiumAvailable = findChromium();
if (!chromiumAvailable.ok) loudSkip('the web console browser tests (keys, sync runs, webhooks)', chromiumAvailable.reason);

let env: TestEnv;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
/** Content-Security-Policy violations and page errors: the console must cause none. */
const pageProblems: string[] = [];

(chromiumAvailable.ok ? describe : describe.skip)('the web console: keys, sync runs and webhooks', () => {
  beforeAll(async () => {
    execFileSync('node', ['scripts/build-web.mjs'], { cwd: ROOT, stdio: 'inherit' });
    // Two failed attempts pause an endpoint (for a minute), so a test can see one paused quickly.
    env = await startTestEnv({ knobs: { latency_ms: 300 }, env: { WEBHOOK_BREAKER_FAILURES: '2', WEBHOOK_PAUSE_MIN_MS: '60000' } });
    receiver = await startReceiver();
    browser = await chromium.launch({ executablePath: chromiumAvailable.ok ? chromiumAvailable.path : undefined, args: CHROMIUM_ARGS, headless: true });
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await receiver?.close();
    await env?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    collectPageProblems(page, pageProblems);
  });
  afterEach(async () => {
    await context?.close();
    expect(pageProblems).toEqual([]);
  });

  it('when a user creates a named key with a budget, changes the budget, rotates and revokes it, then the API holds each change and the revoked key stops working', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    await openPage('API keys');

    await page.getByLabel('Name', { exact: true }).fill('ci-pipeline');
    await page.getByLabel('Monthly credit budget (optional)').fill('50');
    await page.getByRole('button', { name: 'Create key' }).click();
    const created = (await page.getByTestId('shown-api-key').textContent())!;
    expect(created).toMatch(/^igk_/);
    const row = page.locator('tr[data-key-name="ci-pipeline"]');
    await expectValue(row.getByLabel('Monthly credit budget of ci-pipeline'), '50');
    expect(await keyNamed(user, 'ci-pipeline')).toMatchObject({ status: 'active', monthly_credit_budget: 50, credits_spent_this_month: 0 });

    // The new key works, and what its jobs cost shows as this month's spend.
    const job = await env.api.post('/api/v1/generate').set({ Authorization: `Bearer ${created}` }).send({ model: MODEL, prompt: 'a lamp' }).expect(202);
    await env.waitForJob({ ...user, apiKey: created, auth: { Authorization: `Bearer ${created}` } }, job.body.job_id);

    // A budget under what was spent: the next job with the key is refused.
    await row.getByLabel('Monthly credit budget of ci-pipeline').fill('1');
    await row.getByRole('button', { name: 'Save' }).click();
    await eventually(async () => (await keyNamed(user, 'ci-pipeline')).monthly_credit_budget === 1);
    await expectText(row.getByTestId('spent'), /^[1-9]\d*$/);
    const refused = await env.api.post('/api/v1/generate').set({ Authorization: `Bearer ${created}` }).send({ model: MODEL, prompt: 'a lamp' }).expect(402);
    expect(refused.body.error.code).toBe('key_budget_exceeded');

    await row.getByRole('button', { name: 'Rotate ci-pipeline' }).click();
    await expectText(page.getByTestId('shown-key'), /^Rotated ci-pipeline\. .*keeps working until/s);
    const rotated = (await page.getByTestId('shown-api-key').textContent())!;
    expect(rotated).not.toBe(created);
    const keys = (await env.api.get('/api/v1/keys').set(user.auth).expect(200)).body.items.filter((k: { name: string }) => k.name === 'ci-pipeline');
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatchObject({ status: 'active', expires_at: expect.any(String) });

    // Revoke the new one: two steps, then it is refused at once.
    const newRow = page.locator('tr[data-key-name="ci-pipeline"]').filter({ hasNot: page.locator('.hint', { hasText: 'until' }) });
    await newRow.getByRole('button', { name: 'Revoke ci-pipeline' }).click();
    await newRow.getByRole('button', { name: 'Confirm revoking ci-pipeline' }).click();
    await page.locator('tr[data-key-name="ci-pipeline"][data-key-status="revoked"]').waitFor();
    await env.api.get('/api/v1/balance').set({ Authorization: `Bearer ${rotated}` }).expect(401);
  }, 120_000);

  it('when a user rotates the key the console signed in with, then the console goes on with the new key', async () => {
    const user = await env.createUser();
    await signInWithKey(user.apiKey);
    await openPage('API keys');
    const own = page.locator('tr', { has: page.getByText('(this console)') });
    const name = (await own.getAttribute('data-key-name'))!;
    await own.getByRole('button', { name: `Rotate ${name}` }).click();
    await expectText(page.getByTestId('shown-key'), /This console now uses the new key\.$/);
    const rotated = (await page.getByTestId('shown-api-key').textContent())!;
    expect(await page.evaluate("sessionStorage.getItem('imagegen.apiKey')")).toBe(rotated);
    // Still signed in after a reload, and the new key is the one marked as the console's.
    await page.reload();
    await page.getByRole('navigation').waitFor();
    await page.getByText('(this console)').waitFor();
  }, 60_000);

  it('when a user runs a model as a sync run, then the request holds until the job is final (201) and the page shows it succeeded; a spend cap below the price is refused with the quote', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    const prefer: Array<string | undefined> = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/api/v1/generate')) prefer.push(r.headers()['prefer']);
    });

    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
    await page.getByLabel('Spend cap (credits, optional)').fill('1');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectText(page.getByRole('alert'), /^This job costs up to \d+ credits, more than max_credits \(1\); nothing was reserved$/);
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);

    await page.getByLabel('Spend cap (credits, optional)').fill('');
    await page.getByLabel(/Wait for the result in the request/).check();
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectText(page.getByTestId('sync-answer'), /^Sync run: the request answered with the finished job \(201\)\.$/, 60_000);
    await expectText(page.getByTestId('job').getByRole('status'), /^succeeded$/);
    expect(prefer).toEqual([undefined, 'wait=60']);
  }, 120_000);

  it('when a job was given a webhook URL, then its deliveries are listed with the answers the receiver gave, and the signing secret is shown on request and rotated', async () => {
    const user = await fundedUser(env, 100);
    receiver.failFirst('/console', 1);
    await signInWithKey(user.apiKey);
    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await page.getByLabel('Prompt', { exact: true }).fill('a red kite');
    await page.getByLabel('Webhook URL (optional)').fill(receiver.url('/console'));
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectText(page.getByTestId('job').getByRole('status'), /^succeeded$/, 60_000);
    const jobId = new URL(page.url()).searchParams.get('job')!;
    await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed', statusCode: 200 } }), 60_000, 100);

    await page.getByRole('link', { name: 'Webhook deliveries of this job' }).click();
    const list = page.getByTestId('deliveries');
    await list.getByRole('table', { name: 'Delivery attempts' }).waitFor();
    const answers = await list.getByTestId('answer').allTextContents();
    // The first attempt failed (500) and was retried; every event ends delivered.
    expect(answers[0]).toBe('500');
    expect(answers.slice(1).every((a) => a === '200')).toBe(true);
    expect(await list.locator('tr[data-event="completed"]').count()).toBe(1);
    await expectText(page.getByTestId('endpoint-status'), /^active$/);

    await page.getByRole('button', { name: 'Show the signing secret' }).click();
    const secret = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
    await expectText(page.getByTestId('webhook-secret'), new RegExp(`^${secret.replace(/[+/]/g, '\\$&')}$`));

    // Rotate: the new secret is shown and is the account's secret from now on; the old one signs beside it for a while.
    await page.getByRole('button', { name: 'Rotate the secret' }).click();
    await page.getByRole('button', { name: 'Rotate now' }).click();
    await page.getByTestId('secret-rotated').waitFor();
    const rotated = (await env.api.get('/api/v1/webhooks/secret').set(user.auth).expect(200)).body.key;
    expect(rotated).not.toBe(secret);
    expect(await page.getByTestId('webhook-secret').textContent()).toBe(rotated);
  }, 120_000);

  it('when a user sends a test event and redelivers a delivered event, then the page shows what the receiver answered and the redelivery appears among the attempts', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    await openPage('Webhooks');
    await page.getByLabel('Webhook URL', { exact: true }).fill(receiver.url('/test-event'));
    await page.getByRole('button', { name: 'Send test event' }).click();
    await expectText(page.getByTestId('test-result'), /^Delivered: answered 200 in \d+ ms$/);
    const tested = receiver.at('/test-event');
    expect(tested).toHaveLength(1);
    expect(tested[0]!.json).toMatchObject({ type: 'test' });

    const job = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a kite', webhook: receiver.url('/redeliver') }).expect(202);
    const jobId = job.body.job_id;
    await eventually(() => env.db.webhookDelivery.findFirst({ where: { resourceId: jobId, event: 'completed', statusCode: 200 } }), 60_000, 100);
    await page.goto(`${env.baseUrl}/webhooks?resource=job:${jobId}`);
    const list = page.getByTestId('deliveries');
    await list.getByRole('button', { name: 'Redeliver the completed event' }).click();
    await list.locator('tr[data-event="completed"][data-redelivery="true"]').waitFor({ timeout: 30_000 });
    await expectText(list.locator('tr[data-event="completed"][data-redelivery="true"]').getByTestId('answer'), /^200$/);
    const completed = receiver.at('/redeliver').filter((r) => r.json?.status === 'succeeded');
    // The same event again, under the same webhook-id.
    expect(completed.length).toBeGreaterThanOrEqual(2);
    expect(new Set(completed.map((r) => r.headers['webhook-id'])).size).toBeLessThan(completed.length);
  }, 120_000);

  it('when a job\'s webhook endpoint keeps failing, then the deliveries page shows it paused, and Re-enable makes it active again', async () => {
    const user = await fundedUser(env, 100);
    receiver.failFirst('/paused', 1000);
    const job = await env.api.post('/api/v1/generate').set(user.auth).send({ model: MODEL, prompt: 'a fog bank', webhook: receiver.url('/paused') }).expect(202);
    const jobId = job.body.job_id;
    // Two failed attempts pause it; the list it was last seen in goes into the failure message.
    let last: unknown;
    await eventually(async () => {
      last = (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200)).body;
      return (last as { endpoint: { status: string } | null }).endpoint?.status === 'paused';
    }, 60_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });

    await signInWithKey(user.apiKey);
    await page.goto(`${env.baseUrl}/webhooks?resource=job:${jobId}`);
    await expectText(page.getByTestId('endpoint-status'), /^paused$/);
    receiver.failFirst('/paused', 0);
    await page.getByRole('button', { name: 'Re-enable this endpoint' }).click();
    await expectText(page.getByTestId('endpoint-status'), /^active$/);
    const body = (await env.api.get(`/api/v1/webhooks/deliveries?resource=job:${jobId}`).set(user.auth).expect(200)).body;
    expect(body.endpoint).toMatchObject({ status: 'active', paused_until: null });
  }, 120_000);

  it('when a user starts a batch of three prompts, then the page follows it to completed with every item succeeded, and its jobs are the user\'s', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    await openPage('Batches');
    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await page.getByLabel(/^Prompts, one a line/).fill('a red kite\na blue kite\n\na green kite');
    await page.getByRole('button', { name: 'Start 3 jobs' }).click();
    const batch = page.getByTestId('batch');
    await expectText(batch.getByRole('status'), /^completed$/, 60_000);
    await expectText(page.getByTestId('batch-counts'), /^3 succeeded, 0 failed, 0 canceled, 0 waiting or running, 0 refused · 3 items$/);
    const batchId = new URL(page.url()).searchParams.get('batch')!;
    const body = (await env.api.get(`/api/v1/batches/${batchId}`).set(user.auth).expect(200)).body;
    expect(body.items.map((i: { status: string }) => i.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    await expect(batch.getByRole('table', { name: 'Batch items' }).getByRole('link').count()).resolves.toBe(3);
    // It is remembered in this browser.
    await page.getByTestId('recent-batches').getByRole('link', { name: batchId.slice(0, 8) }).waitFor();
  }, 120_000);

  it('when a user deletes a finished job\'s output files, then the page shows them deleted and the download is gone', async () => {
    const user = await fundedUser(env, 100);
    await signInWithKey(user.apiKey);
    await page.getByLabel('Model', { exact: true }).selectOption(MODEL);
    await page.getByLabel('Prompt', { exact: true }).fill('a tidal pool');
    await page.getByLabel('Keep the outputs for (optional)').fill('P7D');
    await page.getByRole('button', { name: 'Run', exact: true }).click();
    await expectText(page.getByTestId('job').getByRole('status'), /^succeeded$/, 60_000);
    await page.getByText(/^Kept until /).waitFor();
    await page.getByRole('button', { name: 'Delete the output files' }).click();
    await page.getByRole('button', { name: 'Delete the files now' }).click();
    await expectText(page.getByTestId('output-deleted'), /^Output 1 of job \w+: deleted /);
    expect(await page.getByRole('button', { name: /^Download output/ }).count()).toBe(0);
    const jobId = new URL(page.url()).searchParams.get('job')!;
    const job = (await env.api.get(`/api/v1/status/${jobId}`).set(user.auth).expect(200)).body;
    expect(job.outputs[0]).toMatchObject({ url: null, deleted_at: expect.any(String) });
  }, 120_000);
});

async function keyNamed(user: TestUser, name: string): Promise<Record<string, unknown>> {
  const items = (await env.api.get('/api/v1/keys').set(user.auth).expect(200)).body.items as Array<{ name: string }>;
  return items.find((k) => k.name === name)!;
}

async function openPage(label: string): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: label }).click();
}

/** Signs in on the account page with an existing API key, as a returning user does. */
async function signInWithKey(apiKey: string): Promise<void> {
  await page.goto(`${env.baseUrl}/account`);
  await page.getByLabel('API key', { exact: true }).fill(apiKey);
  await page.getByRole('button', { name: 'Use this key' }).click();
  await page.getByRole('navigation').waitFor();
}

async function expectValue(locator: Locator, value: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await locator.inputValue({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null);
    if (last === value) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected the value ${value} within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

/** Waits until the element's whole text matches. */
async function expectText(locator: Locator, pattern: RegExp, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = null;
  while (Date.now() < deadline) {
    last = await locator.textContent({ timeout: Math.max(1, deadline - Date.now()) }).catch(() => null);
    if (last !== null && pattern.test(last.trim())) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`expected text ${pattern} within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}
