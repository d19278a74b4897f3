import { randomUUID } from 'node:crypto';
import { getOwed, ledgerBalance, ledgerOwed } from '../../src/credits/ledger';
import { chargeRefundedEvent, checkoutSessionEvent, disputeEvent } from '../../tools/dev/stripe-test-events';
import { grantImages, ledgerImagesOwed, ledgerTotals } from '../../src/quota/ledger';
import { paidPayment, trainedVersion } from '../helpers/factories';
import { eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/**
 * Money that goes back through Stripe (refunds, disputes) takes back what it bought, once,
 * through the same ledgers; what was already spent is owed and blocks new spending. Events are
 * signed like Stripe signs them; stripe-mock answers the checkout creations.
 */

const FLUX = 'black-forest-labs/flux-schnell';
const PACK_100_CENTS = 500;

let env: TestEnv;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
});
afterAll(() => env?.stop());

const deliver = (event: object) => env.deliverStripeEvent(event).expect(200);

/** Buys the 100-credit pack through the API and Stripe's completed checkout; returns its PaymentIntent. */
async function buyCredits(user: TestUser): Promise<{ purchaseId: string; paymentIntentId: string }> {
  const { body } = await env.api.post('/api/v1/credits/checkout').set(user.auth).send({ pack_id: 'credits-100' }).expect(201);
  const paymentIntentId = `pi_${randomUUID().replace(/-/g, '')}`;
  await deliver(checkoutSessionEvent({ paymentId: body.purchase_id, metadata: { kind: 'credit_pack', purchase_id: body.purchase_id }, amountCents: PACK_100_CENTS, paymentIntentId }));
  return { purchaseId: body.purchase_id, paymentIntentId };
}

/** The balance the API shows, checked against the ledger's sums, with what is owed. */
async function balance(user: TestUser): Promise<{ credits: number; reserved: number; owed: number }> {
  const res = await env.api.get('/api/v1/balance').set(user.auth).expect(200);
  expect(res.body).toEqual(await ledgerBalance(env.db, user.id));
  const owed = await getOwed(env.db, user.id);
  expect(owed).toBe(await ledgerOwed(env.db, user.id));
  return { ...res.body, owed };
}

const generate = (user: TestUser, numOutputs: number) => env.api.post('/api/v1/generate').set(user.auth).send({ model: FLUX, prompt: 'a lighthouse', num_outputs: numOutputs });

/** A model's counters, checked against its ledger's sums. */
async function quota(versionId: string): Promise<{ total: number; used: number; reserved: number; owed: number }> {
  const v = await env.db.modelVersion.findUniqueOrThrow({ where: { id: versionId } });
  const counters = { total: v.imagesTotal, used: v.imagesUsed, reserved: v.imagesReserved };
  expect(counters).toEqual(await ledgerTotals(env.db, versionId));
  expect(v.imagesOwed).toBe(await ledgerImagesOwed(env.db, versionId));
  return { ...counters, owed: v.imagesOwed };
}

describe('refunds of credit packs', () => {
  it('when a pack is refunded after some credits were spent, then the balance is 0, the rest is owed, jobs get 402 account_in_debt, and the next purchase pays the debt first', async () => {
    const user = await env.createUser();
    const { paymentIntentId } = await buyCredits(user);
    const job = await generate(user, 4).expect(202); // 4 outputs × 2 credits
    await env.waitForJob(user, job.body.job_id);
    expect(await balance(user)).toEqual({ credits: 92, reserved: 0, owed: 0 });

    const refund = chargeRefundedEvent({ paymentIntentId, amount: PACK_100_CENTS });
    const res = await deliver(refund);
    expect(res.body).toEqual({ received: true });
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 8 });

    const refused = await generate(user, 1).expect(402);
    expect(refused.body.error).toMatchObject({ code: 'account_in_debt', details: { owed: 8, unit: 'credits' } });
    expect(await env.db.job.count({ where: { userId: user.id } })).toBe(1);

    // The same delivery again, and another event with the same refund state, change nothing.
    expect((await deliver(refund)).body).toEqual({ received: true, duplicate: true });
    await deliver(chargeRefundedEvent({ paymentIntentId, amount: PACK_100_CENTS, chargeId: refund.data.object.id as string }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 8 });

    await buyCredits(user);
    expect(await balance(user)).toEqual({ credits: 92, reserved: 0, owed: 0 });
    await generate(user, 1).expect(202);
  });

  it('when a pack is refunded in two halves, then each refund takes back its share and no more', async () => {
    const user = await env.createUser();
    const { paymentIntentId } = await buyCredits(user);
    const chargeId = `ch_${randomUUID().replace(/-/g, '')}`;
    await deliver(chargeRefundedEvent({ paymentIntentId, chargeId, amount: PACK_100_CENTS, amountRefunded: 250 }));
    expect(await balance(user)).toEqual({ credits: 50, reserved: 0, owed: 0 });
    await deliver(chargeRefundedEvent({ paymentIntentId, chargeId, amount: PACK_100_CENTS, amountRefunded: 500 }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
    // The first half's event delivered late lowers nothing.
    await deliver(chargeRefundedEvent({ paymentIntentId, chargeId, amount: PACK_100_CENTS, amountRefunded: 250 }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
  });

  it('when a refund names a PaymentIntent that is none of ours, then 200, ignored and nothing moves', async () => {
    const user = await env.createUser();
    await buyCredits(user);
    const res = await deliver(chargeRefundedEvent({ paymentIntentId: 'pi_someone_else', amount: PACK_100_CENTS }));
    expect(res.body).toEqual({ received: true, ignored: true });
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0, owed: 0 });
  });
});

describe('disputes of credit packs', () => {
  it('when a dispute is opened and then won, then its credits are held back and come back', async () => {
    const user = await env.createUser();
    const { paymentIntentId } = await buyCredits(user);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 0 });
    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: PACK_100_CENTS, status: 'won' }));
    expect(await balance(user)).toEqual({ credits: 100, reserved: 0, owed: 0 });
  });

  it('when a dispute is lost after some credits were spent, then what it took stays taken and the spent part stays owed', async () => {
    const user = await env.createUser();
    const { paymentIntentId } = await buyCredits(user);
    const job = await generate(user, 2).expect(202);
    await env.waitForJob(user, job.body.job_id);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 4 });
    const lost = disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: PACK_100_CENTS, status: 'lost' });
    await deliver(lost);
    await deliver(lost);
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 4 });
    expect((await generate(user, 1).expect(402)).body.error.code).toBe('account_in_debt');
  });

  it('when a dispute is won after its credits were already spent, then the debt it created is forgiven first', async () => {
    const user = await env.createUser();
    const { paymentIntentId } = await buyCredits(user);
    const job = await generate(user, 3).expect(202);
    await env.waitForJob(user, job.body.job_id);
    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: PACK_100_CENTS }));
    expect(await balance(user)).toEqual({ credits: 0, reserved: 0, owed: 6 });
    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: PACK_100_CENTS, status: 'won' }));
    expect(await balance(user)).toEqual({ credits: 94, reserved: 0, owed: 0 });
    await generate(user, 1).expect(202);
  });
});

describe('refunds of plan payments', () => {
  it('when a trained plan is refunded, then its unused images are taken back, the used ones are owed and prompts get 402 account_in_debt', async () => {
    const user = await env.createUser();
    const version = await trainedVersion(env.db, user.id);
    const paymentIntentId = `pi_${randomUUID().replace(/-/g, '')}`;
    await env.db.payment.update({ where: { id: version.paymentId }, data: { paymentIntentId } });
    const prompt = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'TOK on a hill', num_outputs: 3 }).expect(202);
    await eventually(async () => (await env.db.prompt.findUniqueOrThrow({ where: { id: prompt.body.prompt_id } })).status === 'succeeded', 30_000);
    expect(await quota(version.id)).toEqual({ total: 50, used: 3, reserved: 0, owed: 0 });

    const chargeId = `ch_${randomUUID().replace(/-/g, '')}`;
    await deliver(chargeRefundedEvent({ paymentIntentId, chargeId, amount: 1900, amountRefunded: 950 }));
    expect(await quota(version.id)).toEqual({ total: 25, used: 3, reserved: 0, owed: 0 });
    await deliver(chargeRefundedEvent({ paymentIntentId, chargeId, amount: 1900 }));
    expect(await quota(version.id)).toEqual({ total: 3, used: 3, reserved: 0, owed: 3 });

    const refused = await env.api.post(`/api/v1/prompts/create/${version.id}`).set(user.auth).send({ prompt: 'TOK again', num_outputs: 1 }).expect(402);
    expect(refused.body.error).toMatchObject({ code: 'account_in_debt', details: { owed: 3, unit: 'images' } });
  });

  it('when a base plan is half refunded before its training finished, then the training grants only the other half', async () => {
    const user = await env.createUser();
    const paymentIntentId = `pi_${randomUUID().replace(/-/g, '')}`;
    const payment = await paidPayment(env.db, user.id, 'starter');
    await env.db.payment.update({ where: { id: payment.id }, data: { paymentIntentId } });
    await deliver(chargeRefundedEvent({ paymentIntentId, amount: 1900, amountRefunded: 950 }));

    // What TrainModel does when the training succeeds: grant the plan's images to the new model.
    const versionId = randomUUID();
    await env.db.modelVersion.create({
      data: { id: versionId, userId: user.id, paymentId: payment.id, planId: 'starter', status: 'succeeded', triggerWord: 'TOK', imageCount: 10, workflowId: `train-${payment.id}`, uploadPrefix: `versions/${versionId}/uploads` },
    });
    await env.db.$transaction((tx) => grantImages(tx, { versionId, paymentId: payment.id, images: 50 }));
    expect(await quota(versionId)).toEqual({ total: 25, used: 0, reserved: 0, owed: 0 });
  });

  it('when an add-on is disputed and the dispute is won, then its images are held back and come back', async () => {
    const user = await env.createUser();
    const version = await trainedVersion(env.db, user.id);
    const { body } = await env.api.post('/api/v1/payments/create').set(user.auth).send({ plan_id: 'more-50', version_id: version.id }).expect(201);
    const paymentIntentId = `pi_${randomUUID().replace(/-/g, '')}`;
    await deliver(checkoutSessionEvent({ paymentId: body.payment_id, amountCents: 900, paymentIntentId }));
    expect(await quota(version.id)).toEqual({ total: 100, used: 0, reserved: 0, owed: 0 });

    const disputeId = `dp_${randomUUID().replace(/-/g, '')}`;
    await deliver(disputeEvent({ type: 'charge.dispute.created', paymentIntentId, disputeId, amount: 900 }));
    expect(await quota(version.id)).toEqual({ total: 50, used: 0, reserved: 0, owed: 0 });
    await deliver(disputeEvent({ type: 'charge.dispute.closed', paymentIntentId, disputeId, amount: 900, status: 'won' }));
    expect(await quota(version.id)).toEqual({ total: 100, used: 0, reserved: 0, owed: 0 });
  });
});
