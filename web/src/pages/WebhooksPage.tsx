import { useState, type FormEvent } from 'react';
import { call, client, type OkBody, type Schemas, type WebhookEndpoint } from '../api';
import { navigate, useLocation } from '../router';
import { ErrorMessage, formatDate, useLoad } from '../ui';

type Deliveries = OkBody<'listWebhookDeliveries'>;
const KINDS = ['job', 'prompt', 'version', 'batch'] as const;

/**
 * Webhooks: the signing secret, and for one job, prompt, model or batch (`?resource=job:<id>`)
 * every delivery attempt and the state of its endpoint, which a paused or disabled endpoint can
 * be re-enabled from.
 */
export function WebhooksPage() {
  const { query } = useLocation();
  const resource = query.get('resource');
  return (
    <section aria-labelledby="webhooks-title">
      <h1 id="webhooks-title">Webhooks</h1>
      <p className="hint">
        Give a job, prompt, training or batch a <code>webhook</code> URL and its events are posted there, signed (Standard Webhooks) with your secret.
      </p>
      <Secret />
      <TestEvent />
      <ResourcePicker current={resource} />
      {resource && <DeliveryList key={resource} resource={resource} />}
    </section>
  );
}

/** The signing secret on request; rotating it keeps the old one signing beside the new one for a grace period. */
function Secret() {
  const [secret, setSecret] = useState<string>();
  const [oldUntil, setOldUntil] = useState<string>();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();
  const reveal = async () => {
    setError(undefined);
    try {
      setSecret((await call(client.GET('/api/v1/webhooks/secret'))).key);
    } catch (err) {
      setError(err);
    }
  };
  const rotate = async () => {
    setError(undefined);
    setConfirming(false);
    try {
      const rotated = await call(client.POST('/api/v1/webhooks/secret/rotate'));
      setSecret(rotated.key);
      setOldUntil(rotated.previous_expires_at);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="card">
      <h2>Signing secret</h2>
      {secret ? (
        <p>
          <code data-testid="webhook-secret">{secret}</code>
        </p>
      ) : (
        <button type="button" onClick={() => void reveal()}>
          Show the signing secret
        </button>
      )}
      {oldUntil && (
        <p className="hint" role="status" data-testid="secret-rotated">
          Rotated. Until {formatDate(oldUntil)} every webhook carries two signatures (the new secret&apos;s and the old one&apos;s), so receivers can switch without losing one.
        </p>
      )}
      <div className="row">
        {confirming ? (
          <>
            <button type="button" onClick={() => void rotate()}>
              Rotate now
            </button>
            <button type="button" onClick={() => setConfirming(false)}>
              Keep it
            </button>
          </>
        ) : (
          <button type="button" onClick={() => setConfirming(true)}>
            Rotate the secret
          </button>
        )}
      </div>
      <ErrorMessage error={error} />
    </div>
  );
}

/** POST /webhooks/test: a signed test event to a URL, and what the receiver answered. */
function TestEvent() {
  const [url, setUrl] = useState('');
  const [result, setResult] = useState<Schemas['WebhookTestResult']>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      setResult(await call(client.POST('/api/v1/webhooks/test', { body: { url: url.trim() } })));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="card" aria-label="Send a test event">
      <h2>Send a test event</h2>
      <div className="row">
        <label>
          Webhook URL
          <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/hooks/imagegen" size={50} />
        </label>
        <button type="submit" disabled={busy}>
          Send test event
        </button>
      </div>
      <ErrorMessage error={error} />
      {result && (
        <p role="status" data-testid="test-result" className={result.delivered ? 'hint' : 'error'}>
          {result.delivered ? 'Delivered' : 'Not delivered'}: {result.status_code !== null ? `answered ${result.status_code}` : 'no answer'} in {result.latency_ms} ms
          {result.redirect_location ? ` · redirects to ${result.redirect_location} (not followed)` : ''}
          {result.error ? ` · ${result.error}` : ''}
          {result.body_excerpt ? ` · “${result.body_excerpt}”` : ''}
        </p>
      )}
    </form>
  );
}

function ResourcePicker({ current }: { current: string | null }) {
  const [kind, setKind] = useState<string>(current?.split(':')[0] ?? 'job');
  const [id, setId] = useState(current?.split(':')[1] ?? '');
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/webhooks?resource=${kind}:${id.trim()}`);
  };
  return (
    <form onSubmit={submit} className="card" aria-label="Show deliveries">
      <h2>Deliveries</h2>
      <div className="row">
        <label>
          Of a
          <select value={kind} onChange={(e) => setKind(e.target.value)}>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label>
          Id
          <input required value={id} onChange={(e) => setId(e.target.value)} placeholder="its id (a UUID)" size={38} />
        </label>
        <button type="submit">Show deliveries</button>
      </div>
    </form>
  );
}

function DeliveryList({ resource }: { resource: string }) {
  const list = useLoad(() => call(client.GET('/api/v1/webhooks/deliveries', { params: { query: { resource } } })), [resource]);
  return (
    <article aria-labelledby="deliveries-title" data-testid="deliveries">
      <h2 id="deliveries-title">
        Deliveries of <code>{resource}</code>{' '}
        <button type="button" onClick={list.reload} disabled={list.loading}>
          Refresh
        </button>
      </h2>
      <ErrorMessage error={list.error} />
      {list.data && <Endpoint endpoint={list.data.endpoint} onChanged={list.reload} />}
      {list.data && <Attempts deliveries={list.data} onRedelivered={list.reload} />}
    </article>
  );
}

function Endpoint({ endpoint, onChanged }: { endpoint: WebhookEndpoint | null; onChanged: () => void }) {
  const [error, setError] = useState<unknown>();
  if (!endpoint) return <p className="hint">No delivery yet (or no webhook URL on it).</p>;
  const reenable = async () => {
    setError(undefined);
    try {
      await call(client.POST('/api/v1/webhooks/endpoints/reenable', { body: { url: endpoint.url } }));
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="notice" data-testid="endpoint">
      <p>
        Endpoint <code>{endpoint.url}</code>: <strong data-testid="endpoint-status">{endpoint.status}</strong>
        {endpoint.status === 'paused' && ` until ${formatDate(endpoint.paused_until)}`}
        {endpoint.consecutive_failures > 0 && ` · ${endpoint.consecutive_failures} failed attempts in a row`}
        {endpoint.last_error && ` · last error: ${endpoint.last_error}`}
      </p>
      {endpoint.status !== 'active' && (
        <button type="button" onClick={() => void reenable()}>
          Re-enable this endpoint
        </button>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}

function Attempts({ deliveries, onRedelivered }: { deliveries: Deliveries; onRedelivered: () => void }) {
  const [error, setError] = useState<unknown>();
  const [sent, setSent] = useState<string>();
  if (deliveries.items.length === 0) return <p>No attempts yet.</p>;
  const redeliver = async (id: string) => {
    setError(undefined);
    setSent(undefined);
    try {
      const r = await call(client.POST('/api/v1/webhooks/deliveries/{delivery_id}/redeliver', { params: { path: { delivery_id: id } } }));
      setSent(`The ${r.event} event is being sent again to ${r.url}.`);
      // The attempt is recorded when it is made: read the list again a moment later.
      setTimeout(onRedelivered, 1000);
    } catch (err) {
      setError(err);
    }
  };
  // One redeliver button per event, on its last attempt.
  const lastOfEvent = new Map(deliveries.items.map((d) => [d.event_id, d.id]));
  return (
    <>
    <ErrorMessage error={error} />
    {sent && (
      <p role="status" className="hint">
        {sent}
      </p>
    )}
    <table aria-label="Delivery attempts">
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Attempt</th>
          <th scope="col">Answer</th>
          <th scope="col">Time</th>
          <th scope="col">Error</th>
          <th scope="col">Next retry</th>
          <th scope="col">Sent</th>
          <th scope="col" />
        </tr>
      </thead>
      <tbody>
        {deliveries.items.map((d) => (
          <tr key={d.id} data-event={d.event} data-redelivery={d.redelivery}>
            <td>
              {d.event}
              {d.redelivery && <span className="hint"> (redelivery)</span>}
            </td>
            <td>{d.attempt}</td>
            <td data-testid="answer">{d.status_code ?? '—'}</td>
            <td>{d.duration_ms} ms</td>
            <td>
              {d.error ?? ''}
              {d.response_excerpt ? <span className="hint"> “{d.response_excerpt}”</span> : null}
            </td>
            <td>{formatDate(d.next_retry_at)}</td>
            <td>{formatDate(d.created_at)}</td>
            <td>
              {lastOfEvent.get(d.event_id) === d.id && (
                <button type="button" onClick={() => void redeliver(d.id)} aria-label={`Redeliver the ${d.event} event`}>
                  Redeliver
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    </>
  );
}
