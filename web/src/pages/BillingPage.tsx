import { useEffect, useState } from 'react';
import { call, client, money, type CreditPack, type Plan, type Version } from '../api';
import { rememberId } from '../remembered';
import { useSession } from '../session';
import { ErrorMessage, Link, useLoad } from '../ui';

/** A checkout the user started: a credit purchase or a plan payment. */
export interface OpenCheckout {
  kind: 'purchase' | 'payment';
  id: string;
  checkoutUrl: string | null;
  label: string;
}

/** Credit packs (for catalog models) and plans (for training and prompting your own model). */
export function BillingPage() {
  const { balance } = useSession();
  const packs = useLoad(() => call(client.GET('/api/v1/credit-packs')), []);
  const plans = useLoad(() => call(client.GET('/api/v1/plans')), []);
  const versions = useLoad(() => call(client.GET('/api/v1/versions', { params: { query: { limit: 100 } } })), []);
  const [checkout, setCheckout] = useState<OpenCheckout>();
  const [error, setError] = useState<unknown>();
  const trained = (versions.data?.items ?? []).filter((v) => v.status === 'succeeded');

  const start = async (request: () => Promise<OpenCheckout>) => {
    setError(undefined);
    setCheckout(undefined);
    try {
      setCheckout(await request());
    } catch (err) {
      setError(err);
    }
  };
  const buyPack = (pack: CreditPack) =>
    start(async () => {
      const r = await call(client.POST('/api/v1/credits/checkout', { body: { pack_id: pack.id } }));
      return { kind: 'purchase', id: r.purchase_id, checkoutUrl: r.checkout_url, label: pack.name };
    });
  const buyPlan = (plan: Plan, versionId?: string) =>
    start(async () => {
      const r = await call(client.POST('/api/v1/payments/create', { body: { plan_id: plan.id, ...(versionId ? { version_id: versionId } : {}) } }));
      await rememberId('payments', r.payment_id);
      return { kind: 'payment', id: r.payment_id, checkoutUrl: r.checkout_url, label: plan.name };
    });

  return (
    <section aria-labelledby="billing-title">
      <h1 id="billing-title">Credits &amp; plans</h1>
      <p>
        Balance: <strong data-testid="billing-credits">{balance?.credits ?? '…'}</strong> credits
        {balance && balance.reserved > 0 ? `, ${balance.reserved} reserved by running jobs` : ''}.
      </p>
      <ErrorMessage error={error} />
      {checkout && <Checkout checkout={checkout} />}

      <h2>Credit packs</h2>
      <p className="hint">Credits pay for runs of the catalog models.</p>
      <ErrorMessage error={packs.error} />
      <ul className="tiles">
        {packs.data?.items.map((pack) => (
          <li key={pack.id} className="card">
            <h3>{pack.name}</h3>
            <p>
              {pack.credits} credits for {money(pack.price_cents, pack.currency)}
            </p>
            {pack.description && <p className="hint">{pack.description}</p>}
            <button type="button" onClick={() => void buyPack(pack)} aria-label={`Buy ${pack.name}`}>
              Buy
            </button>
          </li>
        ))}
      </ul>

      <h2>Plans</h2>
      <p className="hint">A base plan pays for training a model of your own and its first images; an add-on adds images to a trained model.</p>
      <ErrorMessage error={plans.error} />
      <ul className="tiles">
        {plans.data?.items.map((plan) => (
          <li key={plan.id} className="card">
            <h3>{plan.name}</h3>
            <p>
              {plan.images} images for {money(plan.price_cents, plan.currency)}
            </p>
            {plan.description && <p className="hint">{plan.description}</p>}
            {plan.is_init ? (
              <button type="button" onClick={() => void buyPlan(plan)} aria-label={`Buy plan ${plan.name}`}>
                Buy
              </button>
            ) : (
              <AddOn plan={plan} trained={trained} onBuy={(versionId) => void buyPlan(plan, versionId)} />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

function AddOn({ plan, trained, onBuy }: { plan: Plan; trained: Version[]; onBuy: (versionId: string) => void }) {
  const [versionId, setVersionId] = useState('');
  if (trained.length === 0) return <p className="hint">Needs a trained model.</p>;
  return (
    <div className="row">
      <label>
        For model
        <select value={versionId} onChange={(e) => setVersionId(e.target.value)}>
          <option value="">Choose…</option>
          {trained.map((v) => (
            <option key={v.version_id} value={v.version_id}>
              {v.trigger_word} · {v.version_id.slice(0, 8)}
            </option>
          ))}
        </select>
      </label>
      <button type="button" disabled={!versionId} onClick={() => onBuy(versionId)} aria-label={`Buy plan ${plan.name}`}>
        Buy
      </button>
    </div>
  );
}

/**
 * An open checkout. With real Stripe the browser goes to its checkout_url; when the API runs on
 * stripe-mock (GET /console-config), no page can be paid, so the console asks the API to send
 * the signed test event `npm run stripe:complete` would send.
 */
export function Checkout({ checkout, onPaid }: { checkout: OpenCheckout; onPaid?: () => void }) {
  const { config, refreshBalance } = useSession();
  const [status, setStatus] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const payAtStripe = config?.test_checkout === false && checkout.checkoutUrl;
  useEffect(() => {
    if (payAtStripe) window.location.assign(payAtStripe);
  }, [payAtStripe]);
  const complete = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const body = checkout.kind === 'payment' ? { payment_id: checkout.id } : { purchase_id: checkout.id };
      const done = await call(client.POST('/api/v1/dev/complete-checkout', { body }));
      setStatus(done.status);
      refreshBalance();
      onPaid?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="notice" aria-live="polite" data-testid="checkout">
      <p>
        Checkout for <strong>{checkout.label}</strong> created.
      </p>
      {status === 'paid' ? (
        <p role="status">
          Paid.{' '}
          {checkout.kind === 'payment' ? (
            <Link to={`/train?payment=${checkout.id}`}>Train a model with this payment</Link>
          ) : (
            <Link to="/">Run a model</Link>
          )}
        </p>
      ) : !config ? (
        <p>Loading…</p>
      ) : config.test_checkout ? (
        <>
          <p>This API runs against stripe-mock: no checkout page can be paid. Complete it with a signed test event instead.</p>
          <button type="button" onClick={() => void complete()} disabled={busy}>
            Complete this test checkout
          </button>
        </>
      ) : checkout.checkoutUrl ? (
        <p>
          Taking you to Stripe Checkout… If nothing happens, <a href={checkout.checkoutUrl}>continue to Stripe Checkout</a>.
        </p>
      ) : (
        <p>This checkout can no longer be paid.</p>
      )}
      {status && status !== 'paid' && <p>Status: {status}</p>}
      <ErrorMessage error={error} />
    </div>
  );
}
