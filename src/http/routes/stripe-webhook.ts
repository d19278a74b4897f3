import type { RequestHandler } from 'express';
import { handleStripeEvent, verifyStripeEvent } from '../../payments/stripe-events';
import type { AppDeps } from '../deps';

/**
 * Stripe webhooks (`req.body` is the raw Buffer): verify the signature and timestamp, then
 * record the event once and apply it (a checkout, a refund, a dispute) in one transaction. A redelivery answers
 * `duplicate: true` and changes nothing; events we do not act on are recorded and ignored.
 */
export function stripeWebhookHandler({ db, stripe, config }: Pick<AppDeps, 'db' | 'stripe' | 'config'>): RequestHandler {
  return async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const event = verifyStripeEvent(stripe, config.stripe, raw, req.get('stripe-signature'));
    const { duplicate, ignored, result, charge } = await handleStripeEvent(db, event);
    const log = {
      eventId: event.id,
      eventType: event.type,
      ...(result ? { paymentId: result.paymentId, outcome: result.outcome, status: result.status, changed: result.changed, imagesGranted: result.imagesGranted } : {}),
      ...(charge ? { paymentId: charge.paymentId, paymentKind: charge.kind, takenBack: charge.moved } : {}),
    };
    const unmatched = (result && !result.paymentId) || (charge && !charge.paymentId);
    if (duplicate) {
      req.log.info(log, 'stripe webhook: duplicate delivery ignored');
      res.json({ received: true, duplicate: true });
      return;
    }
    if (ignored) req.log.info(log, 'stripe webhook: event type not handled; ignored');
    else if (unmatched) req.log.warn(log, 'stripe webhook: no payment matches this event; ignored');
    else req.log.info(log, 'stripe webhook applied');
    res.json({ received: true, ...(ignored || unmatched ? { ignored: true } : {}) });
  };
}
