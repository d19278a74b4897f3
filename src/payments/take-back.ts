import { AppError, ErrorCode } from '../errors';

/**
 * How much of what a payment granted goes back when Stripe returns money: the share of the
 * charge that was refunded or is held by a dispute, of the units (credits or images) it
 * granted. Rounded down, so a customer never loses more than the share they got back.
 */
export function takeBackTarget(granted: number, amountCents: number | null, heldCents: number): number {
  if (granted <= 0 || heldCents <= 0) return 0;
  if (!amountCents || heldCents >= amountCents) return granted;
  return Math.floor((granted * heldCents) / amountCents);
}

/** 402 for spending while a refund or dispute left something owed. */
export function accountInDebtError(what: 'credits' | 'images', owed: number): AppError {
  const message =
    what === 'credits'
      ? `A refund or dispute took back ${owed} credit${owed === 1 ? '' : 's'} you had already spent; the next credit pack you buy pays this first (POST /api/v1/credits/checkout)`
      : `A refund or dispute took back ${owed} image${owed === 1 ? '' : 's'} of this model that were already used; an add-on plan for it pays this first`;
  return new AppError(402, ErrorCode.accountInDebt, message, { owed, unit: what });
}
