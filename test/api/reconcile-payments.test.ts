import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { checkoutSessionEvent } from '../../src/payments/test-events';
import { ensureReconcileSchedule } from '../../src/temporal/schedules';
import { eventually } from '../helpers/http';
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

  beforeAll(async () => {
    stripe = http.createServer((req, res) => {
      const id = /^\/v1\/checkout\/sessions\/([^/?]+)/.exec(req.url ?? '')?.[1];
      const session = id && sessions.get(id);
      res.writeHead(session ? 200 : 404, { 'Content-Type': 'application/json', 'Request-Id': 'req_1' });
      res.end(JSON.stringify(session ?? { error: { type: 'invalid_request_error', code: 'resource_missing', message: 'No such checkout session' } }));
    });
    await new Promise<void>((resolve) => stripe.listen(0, '127.0.0.1', resolve));
    env = await startTestEnv({
      env: { STRIPE_API_BASE: `http://127.0.0.1:${(stripe.address() as AddressInfo).port}`, RECONCILE_GRACE_MS: '1', RECONCILE_INTERVAL_MS: '3600000' },
    });
  });
  afterAll(async () => {
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

    const scheduleId = await ensureReconcileSchedule(env.temporal, env.config);
    try {
      await env.temporal.schedule.getHandle(scheduleId).trigger();
      const repaired = await eventually(async () => {
        const p = await env.db.payment.findUniqueOrThrow({ where: { id: paid.id } });
        return p.status === 'paid' ? p : undefined;
      }, 20_000, 100);
      expect(repaired).toMatchObject({ amountCents: 1900, currency: 'usd', customerEmail: user.email });
      expect((await env.db.payment.findUniqueOrThrow({ where: { id: open.id } })).status).toBe('pending');
    } finally {
      await env.temporal.schedule.getHandle(scheduleId).delete();
    }
  });
});
