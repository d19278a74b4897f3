import { Router } from 'express';
import { createPaymentBody, paymentIdParam } from '../../payments/schemas';
import { paymentView } from '../../payments/serialize';
import { createPayment, getOwnPayment } from '../../payments/checkout';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

export function createPaymentsRouter(deps: AppDeps): Router {
  const { db } = deps;
  const router = Router();

  router.post('/payments/create', async (req, res) => {
    const user = currentUser(req);
    const body = parse(createPaymentBody, req.body);
    const { payment, promocodeApplied } = await createPayment(deps, { userId: user.id, email: user.email, body });
    res.status(201).location(`/api/v1/payments/${payment.id}`).json({
      payment_id: payment.id,
      checkout_url: payment.checkoutUrl,
      status: payment.status,
      promocode_applied: promocodeApplied,
    });
  });

  router.get('/payments/:payment_id', async (req, res) => {
    const { payment_id } = parse(paymentIdParam, req.params, 'path');
    res.json(paymentView(await getOwnPayment(db, currentUser(req).id, payment_id)));
  });

  return router;
}
