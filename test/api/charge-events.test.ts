import { randomUUID } from 'node:crypto';
import { getOwed, ledgerBalance, ledgerOwed } from '../../src/credits/ledger';
import { chargeRefundedEvent, checkoutSessionEvent, disputeEvent } from '../../tools/dev/stripe-test-events';
import { ledgerImagesOwed, ledgerTotals } from '../../src/quota/ledger';
import { paidPayment, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Refund and dispute events and what they change beyond the ledgers: a plan whose money went
 * back cannot train; events that arrive early or out of order are kept and applied once.
 */

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

const deliver = (event: object) => env.deliverStripeEvent(event).expect(200);

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

const FLUX = 'black-forest-labs/flux-schnell';
const PACK_100_CENTS = 500;

/** A credit pack's checkout, not paid yet. */
async function openPack(user: TestUser): Promise<string> {
  const { body } = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201);
  return body.purchase_id;
}

const paid = (purchaseId: string, paymentIntentId: string) =>
  deliver(checkoutSessionEvent({ paymentId: purchaseId, metadata: { kind: 'credit_pack', purchase_id: purchaseId }, amountCents: PACK_100_CENTS, paymentIntentId }));

async function buyCredits(user: TestUser): Promise<string> {
  const paymentIntentId = pi();
  await paid(await openPack(user), paymentIntentId);
  return paymentIntentId;
}

/** The balance the API shows, checked against the ledger's sums, with what is owed. */
async function balance(user: TestUser): Promise<{ credits: number; reserved: number; owed: number }> {
  const res = await env.api.get('/api/v1/balance').set(user.auth).expect(200);
  expect(res.body).toEqual(await ledgerBalance(env.db, user.id));
  const owed = await getOwed(env.db, user.id);
  expect(owed).toBe(await ledgerOwed(env.db, user.id));
  return { ...res.body, owed };
}

async function quota(versionId: string): Promise<{ total: number; used: number; reserved: number; owed: number }> {
  const v = await env.db.modelVersion.findUniqueOrThrow({ where: { id: versionId } });
  const counters = { total: v.imagesTotal, used: v.imagesUsed, reserved: v.imagesReserved };
  expect(counters).toEqual(await ledgerTotals(env.db, versionId));
  expect(v.imagesOwed).toBe(await ledgerImagesOwed(env.db, versionId));
  return { ...counters, owed: v.imagesOwed };
}

const generate = (user: TestUser, body: object = {}) => env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'a lighthouse', ...body });

describe('charge events that arrive before their payment is paid', () => {
  it('when a refund arrives before the checkout completes, then it is kept and takes the credits back the moment the pack is paid, once', async () => {
    const user = await env.createUser();
    const purchaseId = await openPack(user);
    const paymentIntentId = pi();
    const refund = chargeRefundedEvent({ paymentIntentId, amount: PACK_100_CENTS, amountRefunded: 250 });
    await deliver(refund);
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });

    await paid(purchaseId, paymentIntentId);
    expect(await balance(user)).toEqual({ credits: 50, reserved: 0, owed: 0 });
    expect(await env.db.creditPurchase.findUniqueOrThrow({ where: { id: purchaseId } })).toMatchObject({ status: 'paid', refundedCents: 250, takenBack: 50 });

    // The same refund again, or a redelivered checkout, take nothing more.
    await deliver(chargeRefundedEvent({ paymentIntentId, amount: PACK_100_CENTS, amountRefunded: 250, chargeId: refund.data.object.id as string }));
    await paid(purchaseId, paymentIntentId);
    expect(await balance(user)).toEqual({ credits: 50, reserved: 0, owed: 0 });
  });

  it('when a dispute opens before an add-on plan is paid, then its images are held from the moment it is paid', async () => {
    const user = await env.createUser();
    const version = await trainedVersion(env.db, user.id);
    const { body } = await env.api.post('/api/v1/payments/create').set(user.auth).send({ plan_id: 'more-50', version_id: version.id }).expect(201);
    const paymentIntentId = pi();
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, amount: 900 }));
    await deliver(checkoutSessionEvent({ paymentId: body.payment_id, amountCents: 900, paymentIntentId }));
    expect(await quota(version.id)).toEqual({ total: 50, used: 0, reserved: 0, owed: 0 });
  });
});

describe('dispute events out of order', () => {
  it('when a dispute\'s won closing arrives before its opening, then the late opening holds nothing', async () => {
    const user = await env.createUser();
    const paymentIntentId = await buyCredits(user);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: PACK_100_CENTS, status: 'won' }));
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0, owed: 0 });
    await generate(user).expect(202);
  });

  it('when a dispute\'s lost closing arrives before its opening, then the credits are taken once and the late opening changes nothing', async () => {
    const user = await env.createUser();
    const paymentIntentId = await buyCredits(user);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: PACK_100_CENTS, status: 'lost' }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
    const purchases = await env.db.creditPurchase.findMany({ where: { userId: user.id } });
    expect(purchases.map((p) => [p.disputedCents, p.takenBack])).toEqual([[PACK_100_CENTS, 100]]);
  });
});

describe('debt', () => {
  it('when a refund takes credits while a job holds some, then the credits the job releases later pay the debt first', async () => {
    const user = await env.createUser();
    const paymentIntentId = await buyCredits(user);
    const job = await generate(user, { num_outputs: 2, parameters: { fake_latency_ms: 30_000 } }).expect(202);
    await eventually(async () => (await env.db.job.findUnique({ where: { id: job.body.job_id } }))?.status === 'running');
    await deliver(chargeRefundedEvent({ paymentIntentId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 4, owed: 4 });

    await env.api.delete(`/api/v1/jobs/${job.body.job_id}`).set(user.auth).expect(202);
    await env.waitForJob(user, job.body.job_id);
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
    expect(await env.db.creditLedger.findUnique({ where: { key: `debt-paid:release:${job.body.job_id}` } })).toMatchObject({ movement: 'debt_paid', credits: 4 });
  });

  it('when a model owes images, then credit jobs are 402 account_in_debt too; when credits are owed, prompts on any model are 402 too', async () => {
    const user = await env.createUser();
    const paymentIntentId = await buyCredits(user);
    const version = await trainedVersion(env.db, user.id);
    // Every image of the model was used (as 50 prompts' commits would leave it).
    await env.db.modelVersion.update({ where: { id: version.id }, data: { imagesUsed: 50 } });
    const planIntent = pi();
    await env.db.payment.update({ where: { id: version.paymentId }, data: { paymentIntentId: planIntent } });
    await deliver(chargeRefundedEvent({ paymentIntentId: planIntent, amount: 1900 }));
    expect((await env.db.modelVersion.findUniqueOrThrow({ where: { id: version.id } })).imagesOwed).toBe(50);

    const refused = await generate(user).expect(402);
    expect(refused.body.error).toMatchObject({ code: 'account_in_debt', details: { owed: 50, unit: 'images' } });
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(0);
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0, owed: 0 });

    // Credits owed block prompts on a model that owes nothing.
    const other = await env.createUser();
    const otherIntent = await buyCredits(other);
    const job = await generate(other).expect(202);
    await env.waitForJob(other, job.body.job_id);
    await deliver(chargeRefundedEvent({ paymentIntentId: otherIntent, amount: PACK_100_CENTS }));
    const model = await trainedVersion(env.db, other.id);
    const prompt = await env.api.post(`/api/v1/prompts/create/${model.id}`).set(other.auth).send({ prompt: 'TOK on a hill', num_outputs: 1 }).expect(402);
    expect(prompt.body.error).toMatchObject({ code: 'account_in_debt', details: { owed: 2, unit: 'credits' } });
    expect(await env.db.prompt.count({ where: { versionId: model.id } })).toBe(0);
  });
});
