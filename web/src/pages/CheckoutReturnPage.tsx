import { useEffect, useState } from 'react';
import { call, client } from '../api';
import { useLocation } from '../router';
import { useSession } from '../session';
import { ErrorMessage, Link } from '../ui';

/**
 * Where Stripe Checkout sends the user back (CHECKOUT_SUCCESS_URL and CHECKOUT_CANCEL_URL
 * default to /checkout/success and /checkout/cancel of this API). Stripe's webhook may arrive
 * a moment after the user does, so a success page reads the status until it is settled.
 */
export function CheckoutReturnPage() {
  const { path, query } = useLocation();
  const { refreshBalance } = useSession();
  const paymentId = query.get('payment_id');
  const purchaseId = query.get('purchase_id');
  const canceled = path === '/checkout/cancel';
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    const resource = paymentId
      ? () => call(client.GET('/api/v1/payments/{payment_id}', { params: { path: { payment_id: paymentId } } }))
      : purchaseId
        ? () => call(client.GET('/api/v1/credits/purchases/{purchase_id}', { params: { path: { purchase_id: purchaseId } } }))
        : undefined;
    if (!resource) return;
    let live = true;
    const read = async (attempt: number) => {
      try {
        const body = await resource();
        if (!live) return;
        setStatus(body.status);
        if (body.status === 'pending' && !canceled && attempt < 30) setTimeout(() => void read(attempt + 1), 1000);
        else refreshBalance();
      } catch (err) {
        if (live) setError(err);
      }
    };
    void read(0);
    return () => {
      live = false;
    };
  }, [paymentId, purchaseId, canceled, refreshBalance]);

  return (
    <section aria-labelledby="return-title">
      <h1 id="return-title">{canceled ? 'Checkout canceled' : 'Thank you'}</h1>
      <ErrorMessage error={error} />
      {status && (
        <p role="status">
          {paymentId ? 'Payment' : 'Purchase'} status: <strong>{status}</strong>
        </p>
      )}
      <p>
        {paymentId && status === 'paid' ? <Link to={`/train?payment=${paymentId}`}>Train a model with this payment</Link> : <Link to="/billing">Credits &amp; plans</Link>}
      </p>
    </section>
  );
}
