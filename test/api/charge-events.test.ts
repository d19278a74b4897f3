import { randomUUID } from 'node:crypto';
import { chargeRefundedEvent, disputeEvent, signStripeEvent } from '../../src/payments/test-events';
import { paidPayment } from '../helpers/factories';
import { startTestEnv, TEST_STRIPE_WEBHOOK_SECRET, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Refund and dispute events and what they change beyond the ledgers: a plan whose money went
 * back cannot train; events that arrive early or out of order are kept and applied once.
 */

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

function deliver(event: object) {
  const { payload, header } = signStripeEvent(event, TEST_STRIPE_WEBHOOK_SECRET);
  return env.api.post('/api/v1/webhooks/stripe').set({ 'Content-Type': 'application/json', 'Stripe-Signature': header }).send(payload).expect(200);
}

const pi = () => `pi_${randomUUID().replace(/-/g, '')}`;

async function paidPlan(user: TestUser): Promise<{ paymentId: string; paymentIntentId: string }> {
  const payment = await paidPayment(env.db, user.id, 'starter');
  const paymentIntentId = pi();
  await env.db.payment.update({ where: { id: payment.id }, data: { paymentIntentId } });
  return { paymentId: payment.id, paymentIntentId };
}

const train = (user: TestUser, paymentId: string) =>
  env.api.post(`/api/v1/versions/train/${paymentId}`).set(user.auth).attach('images', Buffer.from('not looked at'), 'photo-1.jpg');

describe('training from a plan whose money went back', () => {
  it('when the plan was refunded in part, then training is 409 payment_refunded and nothing is written or started', async () => {
    const user = await env.createUser();
    const { paymentId, paymentIntentId } = await paidPlan(user);
    await deliver(chargeRefundedEvent({ paymentIntentId, amount: 1900, amountRefunded: 100 }));
    const res = await train(user, paymentId).expect(409);
    expect(res.body.error).toMatchObject({ code: 'payment_refunded', details: { refunded_cents: 100, disputed_cents: 0 } });
    expect(await env.db.modelVersion.count({ where: { paymentId } })).toBe(0);
  });

  it('when the plan is held by an open dispute, then training is 409 payment_refunded; once the dispute is won, the refusal is about the photos', async () => {
    const user = await env.createUser();
    const { paymentId, paymentIntentId } = await paidPlan(user);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: 1900 }));
    expect((await train(user, paymentId).expect(409)).body.error).toMatchObject({ code: 'payment_refunded', details: { disputed_cents: 1900 } });
    expect(await env.db.modelVersion.count({ where: { paymentId } })).toBe(0);

    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: 1900, status: 'won' }));
    expect((await train(user, paymentId).expect(422)).body.error.code).toBe('invalid_images');
  });
});
