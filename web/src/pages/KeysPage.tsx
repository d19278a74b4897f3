import { useState, type FormEvent } from 'react';
import { call, client, type ApiKey, type CreatedApiKey } from '../api';
import { useSession } from '../session';
import { ErrorMessage, formatDate, useLoad } from '../ui';

/** A key the API just made: shown once, as the API shows it only once. */
interface Shown {
  key: CreatedApiKey;
  /** Set for a rotation: when the replaced key stops working. */
  oldExpiresAt?: string;
  /** The console now signs in with it (the replaced key was the console's own). */
  signedIn?: boolean;
}

/**
 * The account's API keys (GET /keys): create one with a name and an optional monthly credit
 * budget, set or remove a key's budget (PATCH), rotate it (the old one keeps working for a grace
 * period) and revoke it.
 */
export function KeysPage() {
  const { apiKey, signIn } = useSession();
  const keys = useLoad(() => call(client.GET('/api/v1/keys')), []);
  const [shown, setShown] = useState<Shown>();
  const [error, setError] = useState<unknown>();
  const isConsoleKey = (k: ApiKey) => !!apiKey && apiKey.startsWith(k.prefix);

  const act = async (action: () => Promise<void>) => {
    setError(undefined);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      keys.reload();
    }
  };
  const rotate = (k: ApiKey) =>
    act(async () => {
      const rotated = await call(client.POST('/api/v1/keys/{key_id}/rotate', { params: { path: { key_id: k.id } } }));
      // The console's own key ends with its grace period: go on with the new one.
      const own = isConsoleKey(k);
      if (own) signIn(rotated.api_key);
      setShown({ key: rotated, oldExpiresAt: rotated.replaces.expires_at, signedIn: own });
    });
  const revoke = (k: ApiKey) =>
    act(async () => {
      await call(client.DELETE('/api/v1/keys/{key_id}', { params: { path: { key_id: k.id } } }));
      setShown(undefined);
    });
  const setBudget = (k: ApiKey, budget: number | null) =>
    act(async () => {
      await call(client.PATCH('/api/v1/keys/{key_id}', { params: { path: { key_id: k.id } }, body: { monthly_credit_budget: budget } }));
    });

  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <p className="hint">
        Send a key as <code>Authorization: Bearer &lt;key&gt;</code>. A key&apos;s monthly budget caps what the jobs sent with it may cost per UTC month
        (402 <code>key_budget_exceeded</code> past it).
      </p>
      <CreateKey
        onCreated={(key) => {
          setShown({ key });
          keys.reload();
        }}
      />
      {shown && <ShownKey shown={shown} />}
      <ErrorMessage error={error ?? keys.error} />
      {keys.data && (
        <table aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Status</th>
              <th scope="col">Monthly budget</th>
              <th scope="col">Spent this month</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {keys.data.items.map((k) => (
              <KeyRow key={k.id} apiKey={k} own={isConsoleKey(k)} onRotate={() => void rotate(k)} onRevoke={() => void revoke(k)} onBudget={(b) => void setBudget(k, b)} />
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function KeyRow({ apiKey: k, own, onRotate, onRevoke, onBudget }: { apiKey: ApiKey; own: boolean; onRotate: () => void; onRevoke: () => void; onBudget: (budget: number | null) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [budget, setBudget] = useState(k.monthly_credit_budget === null ? '' : String(k.monthly_credit_budget));
  const active = k.status === 'active';
  const saveBudget = (e: FormEvent) => {
    e.preventDefault();
    onBudget(budget.trim() === '' ? null : Number(budget));
  };
  return (
    <tr data-key-name={k.name} data-key-status={k.status}>
      <th scope="row">
        {k.name}
        {own && <span className="hint"> (this console)</span>}
      </th>
      <td>
        <code>{k.prefix}…</code>
      </td>
      <td>
        {k.status}
        {k.expires_at && k.status === 'active' && <span className="hint"> until {formatDate(k.expires_at)}</span>}
      </td>
      <td>
        {active ? (
          <form onSubmit={saveBudget} className="row" aria-label={`Monthly budget of ${k.name}`}>
            <input
              type="number"
              min={0}
              step={1}
              value={budget}
              placeholder="no cap"
              aria-label={`Monthly credit budget of ${k.name}`}
              onChange={(e) => setBudget(e.target.value)}
              style={{ width: '7rem' }}
            />
            <button type="submit">Save</button>
          </form>
        ) : (
          (k.monthly_credit_budget ?? 'no cap')
        )}
      </td>
      <td data-testid="spent">{k.credits_spent_this_month}</td>
      <td>{formatDate(k.last_used_at)}</td>
      <td>
        {active && (
          <div className="row">
            <button type="button" onClick={onRotate} aria-label={`Rotate ${k.name}`}>
              Rotate
            </button>
            {confirming ? (
              <>
                <button type="button" className="danger" onClick={onRevoke} aria-label={`Confirm revoking ${k.name}`}>
                  Revoke now
                </button>
                <button type="button" onClick={() => setConfirming(false)}>
                  Keep it
                </button>
              </>
            ) : (
              <button type="button" onClick={() => setConfirming(true)} aria-label={`Revoke ${k.name}`}>
                Revoke
              </button>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}

function CreateKey({ onCreated }: { onCreated: (key: CreatedApiKey) => void }) {
  const [name, setName] = useState('');
  const [budget, setBudget] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = { name, ...(budget.trim() ? { monthly_credit_budget: Number(budget) } : {}) };
      onCreated(await call(client.POST('/api/v1/keys', { body })));
      setName('');
      setBudget('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="card" aria-label="Create an API key">
      <h2>Create a key</h2>
      <div className="columns">
        <label>
          Name
          <input required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" />
        </label>
        <label>
          Monthly credit budget (optional)
          <input type="number" min={0} step={1} value={budget} onChange={(e) => setBudget(e.target.value)} placeholder="no cap" />
        </label>
      </div>
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy}>
        Create key
      </button>
    </form>
  );
}

function ShownKey({ shown }: { shown: Shown }) {
  return (
    <div className="notice" role="status" data-testid="shown-key">
      <p>
        {shown.oldExpiresAt ? 'Rotated' : 'Created'} <strong>{shown.key.name}</strong>. The key is shown only now; keep a copy:
      </p>
      <p>
        <code data-testid="shown-api-key">{shown.key.api_key}</code>
      </p>
      {shown.oldExpiresAt && <p className="hint">The key it replaces keeps working until {formatDate(shown.oldExpiresAt)}.</p>}
      {shown.signedIn && <p className="hint">This console now uses the new key.</p>}
    </div>
  );
}
