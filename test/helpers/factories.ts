import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/db/client';
import { makeJpeg } from '../fixtures/images';

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

/** Distinct valid training photos (small, so tests stay fast). */
export async function photos(count: number, size = 512): Promise<Buffer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => makeJpeg({ width: size, height: size + i, shade: (i * 23) % 256 })));
}
