import { useEffect, useState, type FormEvent } from 'react';
import { call, client, type CatalogModel, type Schemas } from '../api';
import { rememberedIds, rememberId } from '../remembered';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorMessage, formatDate, Link, StatusBadge, useLoad } from '../ui';

type Batch = Schemas['Batch'];

/** The most prompts one batch takes (POST /batches: 1 to 100 jobs). */
const MAX_ITEMS = 100;

/**
 * Batches: many jobs of one catalog model in one request (POST /batches), one prompt a line;
 * the batch's counts and every item followed until it completes, with cancel (DELETE).
 */
export function BatchesPage() {
  const { query } = useLocation();
  const batchId = query.get('batch');
  const models = useLoad(() => call(client.GET('/api/v1/models')), []);
  return (
    <section aria-labelledby="batches-title">
      <h1 id="batches-title">Batches</h1>
      <ErrorMessage error={models.error} />
      {models.data && <BatchForm models={models.data.items.filter((m) => m.input.prompt && !m.input.file)} />}
      <RecentBatches current={batchId} />
      {batchId && <BatchView key={batchId} batchId={batchId} />}
    </section>
  );
}

function BatchForm({ models }: { models: CatalogModel[] }) {
  const { refreshBalance } = useSession();
  const [modelName, setModelName] = useState(models[0]?.name ?? '');
  const [prompts, setPrompts] = useState('');
  const [webhook, setWebhook] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const lines = prompts
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const batch = await call(
        client.POST('/api/v1/batches', {
          body: { jobs: lines.map((prompt) => ({ model: modelName, prompt })), ...(webhook.trim() ? { webhook: webhook.trim() } : {}) },
        }),
      );
      await rememberId('batches', batch.batch_id);
      refreshBalance();
      navigate(`/batches?batch=${batch.batch_id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="card" aria-label="Start a batch">
      <h2>Start a batch</h2>
      <div className="field">
        <label htmlFor="batch-model">Model</label>
        <select id="batch-model" value={modelName} onChange={(e) => setModelName(e.target.value)}>
          {models.map((m) => (
            <option key={m.name} value={m.name}>
              {m.name} ({m.price.summary})
            </option>
          ))}
        </select>
      </div>
      <label>
        Prompts, one a line (up to {MAX_ITEMS})
        <textarea required rows={5} value={prompts} onChange={(e) => setPrompts(e.target.value)} />
      </label>
      <label>
        Webhook URL (optional: receives the batch once every item is final)
        <input type="url" value={webhook} onChange={(e) => setWebhook(e.target.value)} />
      </label>
      <ErrorMessage error={error} />
      <button type="submit" disabled={busy || lines.length === 0 || lines.length > MAX_ITEMS}>
        Start {lines.length || ''} job{lines.length === 1 ? '' : 's'}
      </button>
    </form>
  );
}

/** A batch, read every second until it completes. */
function BatchView({ batchId }: { batchId: string }) {
  const { refreshBalance } = useSession();
  const [batch, setBatch] = useState<Batch>();
  const [error, setError] = useState<unknown>();
  const [cancelError, setCancelError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);
  const completed = batch?.status === 'completed';
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const b = await call(client.GET('/api/v1/batches/{batch_id}', { params: { path: { batch_id: batchId } } }));
        if (!live) return;
        setBatch(b);
        if (b.status !== 'completed') timer = setTimeout(() => void read(), 1000);
      } catch (err) {
        if (live) setError(err);
      }
    };
    void read();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [batchId, generation]);
  useEffect(() => {
    if (completed) refreshBalance();
  }, [completed, refreshBalance]);
  const cancel = async () => {
    setCancelError(undefined);
    try {
      await call(client.DELETE('/api/v1/batches/{batch_id}', { params: { path: { batch_id: batchId } } }));
      setGeneration((g) => g + 1);
    } catch (err) {
      setCancelError(err);
    }
  };
  return (
    <article className="card" aria-labelledby="batch-title" data-testid="batch">
      <h2 id="batch-title">
        Batch <code>{batchId.slice(0, 8)}</code> {batch && <StatusBadge status={batch.status} />}
      </h2>
      <ErrorMessage error={error} />
      {batch && (
        <>
          <p className="hint" data-testid="batch-counts">
            {batch.counts.succeeded} succeeded, {batch.counts.failed} failed, {batch.counts.canceled} canceled, {batch.counts.queued + batch.counts.running} waiting or running,{' '}
            {batch.counts.rejected} refused · {batch.size} items
          </p>
          {batch.webhook && (
            <p className="hint">
              Webhook <code>{batch.webhook}</code>: <Link to={`/webhooks?resource=batch:${batchId}`}>its deliveries</Link>
            </p>
          )}
          {!completed && (
            <button type="button" onClick={() => void cancel()}>
              Cancel the batch
            </button>
          )}
          <ErrorMessage error={cancelError} />
          <table aria-label="Batch items">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Credits</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {batch.items.map((item) => (
                <tr key={item.index} data-index={item.index}>
                  <td>{item.index + 1}</td>
                  <td>
                    {item.job_id ? (
                      <Link to={`/?job=${item.job_id}`}>
                        <code>{item.job_id.slice(0, 8)}</code>
                      </Link>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <StatusBadge status={item.status} live={false} />
                  </td>
                  <td>{item.credits_spent ?? '—'}</td>
                  <td>{item.error ? `${item.error.code}: ${item.error.message}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="hint">
            Created {formatDate(batch.created_at)}
            {batch.completed_at ? ` · completed ${formatDate(batch.completed_at)}` : ''}
          </p>
        </>
      )}
    </article>
  );
}

/** The batches started in this browser (the API has no list of batches, only GET /batches/{id}). */
function RecentBatches({ current }: { current: string | null }) {
  // Read again when the page shows another batch: a batch just started is remembered before it is shown.
  const ids = useLoad(() => rememberedIds('batches'), [current]).data ?? [];
  if (ids.length === 0) return null;
  return (
    <p className="hint" data-testid="recent-batches">
      Recent:{' '}
      {ids.slice(0, 10).map((id, i) => (
        <span key={id}>
          {i > 0 && ' · '}
          <Link to={`/batches?batch=${id}`} current={id === current}>
            <code>{id.slice(0, 8)}</code>
          </Link>
        </span>
      ))}
    </p>
  );
}
