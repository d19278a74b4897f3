import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { checkoutSessionEvent } from '../../tools/dev/stripe-test-events';
import { ledgerTotals } from '../../src/quota/ledger';
import { ensureReconcileSchedule } from '../../src/temporal/schedules';
import type { ReconcileReport } from '../../workflows/reconcile';
import { trainedVersion } from '../helpers/factories';
import { triggerReconciliation } from '../helpers/reconcile';
import { startTestEnv, type TestEnv } from '../helpers/test-env';

/**
 * Stripe completed a checkout but its webhook never arrived. stripe-mock answers every
 * session as open and unpaid, so a small Stripe-shaped server plays Stripe here: it knows
 * the sessions the test gives it, as Stripe's API returns them (the real SDK talks to it).
 */
describe('reconciling payments whose webhook never arrived', () => {
  const sessions = new Map<string, object>();
  let stripe: http.Server;
  let env: TestEnv;
  /** One schedule for the file (the worker created it at start), deleted once at the end. */
  let scheduleId: string;

  beforeAll(async () => {
    stripe = http.createServer((req, res) => {
      const id = /^\/v1\/checkout\/sessions\/([^/?]+)/.exec(req.url ?? '')?.[1];
      const session = id && sessions.get(id);
      res.writeHead(session ? 200 : 404, { 'Content-Type': 'application/json', 'Request-Id': 'req_1' });
      res.end(JSON.stringify(session ?? { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such checkout session' } }));
    });
    await new Promise<void>((resolve) => stripe.listen(0, '127.0.0.1', resolve));
    env = await startTestEnv({
      env: {
        STRIPE_API_BASE: `http://127.0.0.1:${(stripe.address() as AddressInfo).port}`,
        RECONCILE_GRACE_MS: '1',
        RECONCILE_INTERVAL_MS: '3600000',
        // Small pages, so a few dozen pending checkouts take several of them.
        RECONCILE_BATCH_LIMIT: '5',
      },
    });
    scheduleId = await ensureReconcileSchedule(env.temporal, env.config);
  });
  afterAll(async () => {
    await env?.temporal.schedule.getHandle(scheduleId).delete();
    await env?.stop();
    await new Promise<void>((resolve) => stripe.close(() => resolve()));
  });

  it('when Stripe says the session was paid, then the schedule marks the payment paid; an open one stays pending', async () => {
    const user = await env.createUser();
    const make = async (sessionId: string) =>
      env.db.payment.create({ data: { id: randomUUID(), userId: user.id, planId: 'starter', checkoutSessionId: sessionId, createdAt: new Date(Date.now() - 60_000) } });
    const paid = await make('cs_test_paid_no_webhook');
    const open = await make('cs_test_still_open');
    sessions.set(paid.checkoutSessionId!, checkoutSessionEvent({ paymentId: paid.id, sessionId: paid.checkoutSessionId!, paymentStatus: 'paid', amountCents: 1900, currency: 'usd', email: user.email }).data.object);
    sessions.set(open.checkoutSessionId!, { ...checkoutSessionEvent({ paymentId: open.id, sessionId: open.checkoutSessionId! }).data.object, status: 'open', payment_status: 'unpaid' });

    const report = await runReconciliation();
    expect(report.paymentsUpdated).toBeGreaterThanOrEqual(1);
    expect(await env.db.payment.findUniqueOrThrow({ where: { id: paid.id } })).toMatchObject({ status: 'paid', amountCents: 1900, currency: 'usd', customerEmail: user.email });
    expect((await env.db.payment.findUniqueOrThrow({ where: { id: open.id } })).status).toBe('pending');
  });

  const paidSession = (paymentId: string, sessionId: string, email: string) =>
    checkoutSessionEvent({ paymentId, sessionId, paymentStatus: 'paid', amountCents: 1900, currency: 'usd', email }).data.object;
  const openSession = (paymentId: string, sessionId: string) => ({ ...checkoutSessionEvent({ paymentId, sessionId }).data.object, status: 'open', payment_status: 'unpaid' });

  /** What an operator does in the Temporal UI: the schedule runs now. Returns the run's report. */
  const runReconciliation = (): Promise<ReconcileReport> => triggerReconciliation(env, scheduleId);

  it('when Stripe refuses one checkout lookup, then the other checkouts and the leaked reservations are still repaired in the same run, and the failure is counted', async () => {
    const user = await env.createUser();
    const make = async (sessionId: string) =>
      env.db.payment.create({ data: { id: randomUUID(), userId: user.id, planId: 'starter', checkoutSessionId: sessionId, createdAt: new Date(Date.now() - 60_000) } });
    const unknown = await make(`cs_test_unknown_to_stripe_${randomUUID().slice(0, 8)}`); // Stripe answers 404 invalid_request_error
    const paid = await make(`cs_test_paid_${randomUUID().slice(0, 8)}`);
    sessions.set(paid.checkoutSessionId!, paidSession(paid.id, paid.checkoutSessionId!, user.email));
    const version = await trainedVersion(env.db, user.id);
    const promptId = randomUUID();
    await env.db.prompt.create({ data: { id: promptId, userId: user.id, versionId: version.id, prompt: 'leak', numOutputs: 2, status: 'failed', workflowId: `prompt-${version.id}` } });
    await env.db.$transaction(async (tx) => {
      await tx.$executeRaw`UPDATE model_versions SET images_reserved = images_reserved + 2 WHERE id = ${version.id}::uuid`;
      await tx.quotaLedger.create({ data: { id: randomUUID(), versionId: version.id, key: `reserve:${promptId}`, movement: 'reserve', images: 2, promptId } });
    });

    const report = await runReconciliation();
    expect(report.repairsFailed).toBeGreaterThanOrEqual(1);
    expect(report.reservationsSettled).toBeGreaterThanOrEqual(1);
    expect((await env.db.payment.findUniqueOrThrow({ where: { id: paid.id } })).status).toBe('paid');
    expect(await ledgerTotals(env.db, version.id)).toEqual({ total: 50, used: 0, reserved: 0 });
    // The refused one stays pending, marked checked: it goes to the back of the line for the next run.
    const refused = await env.db.payment.findUniqueOrThrow({ where: { id: unknown.id } });
    expect(refused.status).toBe('pending');
    expect(refused.lastCheckedAt).not.toBeNull();
  });

  it('when many abandoned checkouts wait ahead of a paid one whose webhook was lost, then one run still finds it, and every abandoned one was visited', async () => {
    const user = await env.createUser();
    const abandoned = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const p = await env.db.payment.create({
          data: { id: randomUUID(), userId: user.id, planId: 'starter', checkoutSessionId: `cs_test_abandoned_${i}_${randomUUID().slice(0, 8)}`, createdAt: new Date(Date.now() - 3_600_000) },
        });
        sessions.set(p.checkoutSessionId!, openSession(p.id, p.checkoutSessionId!));
        return p;
      }),
    );
    // Checked once while it was still open; then the customer paid and the webhook was lost.
    const paid = await env.db.payment.create({
      data: { id: randomUUID(), userId: user.id, planId: 'starter', checkoutSessionId: `cs_test_paid_late_${randomUUID().slice(0, 8)}`, createdAt: new Date(Date.now() - 120_000), lastCheckedAt: new Date(Date.now() - 60_000) },
    });
    sessions.set(paid.checkoutSessionId!, paidSession(paid.id, paid.checkoutSessionId!, user.email));

    const report = await runReconciliation();
    expect(report.paymentsUpdated).toBeGreaterThanOrEqual(1);
    expect((await env.db.payment.findUniqueOrThrow({ where: { id: paid.id } })).status).toBe('paid');
    const visited = await env.db.payment.findMany({ where: { id: { in: abandoned.map((p) => p.id) } } });
    expect(visited.every((p) => p.status === 'pending' && p.lastCheckedAt !== null)).toBe(true);
  });
});
