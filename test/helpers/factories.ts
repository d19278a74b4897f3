import { randomUUID } from 'node:crypto';
import { topUp } from '../../src/credits/ledger';
import type { Db } from '../../src/db/client';
import { grantImages } from '../../src/quota/ledger';
import { builtinVersionId } from '../../tools/replicate-local/models';
import { makeJpeg } from '../fixtures/images';
import type { TestEnv, TestUser } from './test-env';

/** A paid payment, as the Stripe webhook leaves it. */
export async function paidPayment(db: Db, userId: string, planId = 'starter', overrides: { versionId?: string } = {}) {
  const plan = await db.plan.findUniqueOrThrow({ where: { id: planId } });
  return db.payment.create({
    data: {
      id: randomUUID(),
      userId,
      planId,
      versionId: overrides.versionId ?? null,
      status: 'paid',
      amountCents: plan.priceCents,
      currency: plan.currency,
      checkoutSessionId: `cs_test_${randomUUID().replace(/-/g, '')}`,
      paidAt: new Date(),
    },
  });
}

/** A paid credit purchase, as the Stripe webhook leaves it: the user has `credits` more (ledger and balance). */
export async function paidCredits(db: Db, userId: string, credits: number) {
  const pack = await db.creditPack.findUniqueOrThrow({ where: { id: 'credits-100' } });
  const purchase = await db.creditPurchase.create({
    data: {
      id: randomUUID(),
      userId,
      packId: pack.id,
      credits,
      status: 'paid',
      amountCents: pack.priceCents,
      currency: pack.currency,
      checkoutSessionId: `cs_test_${randomUUID().replace(/-/g, '')}`,
      paidAt: new Date(),
    },
  });
  await db.$transaction((tx) => topUp(tx, { userId, purchaseId: purchase.id, credits }));
  return purchase;
}

/** A new user with `credits` to spend. */
export async function fundedUser(env: TestEnv, credits = 1000): Promise<TestUser> {
  const user = await env.createUser();
  await paidCredits(env.db, user.id, credits);
  return user;
}

/** Distinct valid training photos (small, so tests stay fast). */
export async function photos(count: number, size = 512): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => makeJpeg({ width: size, height: size + i, shade: (i * 23) % 256 })));
}

/**
 * A trained model with its base plan's images granted, as TrainModel leaves it. Its provider
 * version is a built-in model of the local Replicate server, so predictions on it work.
 */
export async function trainedVersion(db: Db, userId: string, planId = 'starter') {
  const payment = await paidPayment(db, userId, planId);
  const id = randomUUID();
  const version = await db.modelVersion.create({
    data: {
      id,
      userId,
      paymentId: payment.id,
      planId,
      status: 'succeeded',
      triggerWord: 'TOK',
      imageCount: 10,
      workflowId: `train-${payment.id}`,
      uploadPrefix: `versions/${id}/uploads`,
      providerModel: 'black-forest-labs/flux-schnell',
      providerVersion: builtinVersionId('black-forest-labs/flux-schnell'),
      trainedAt: new Date(),
    },
  });
  const plan = await db.plan.findUniqueOrThrow({ where: { id: planId } });
  await db.$transaction((tx) => grantImages(tx, { versionId: id, paymentId: payment.id, images: plan.images }));
  return version;
}
