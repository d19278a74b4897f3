import { useEffect, useState, type FormEvent } from 'react';
import { answer, call, client, type Prompt, type Schemas, type Version } from '../api';
import { useLocation } from '../router';
import { ErrorMessage, formatDate, Link, StatusBadge, useLoad } from '../ui';
import { watch } from '../watch';

/** The user's trained models; for the chosen one, a prompt form and its gallery. */
export function ModelsPage() {
  const { query } = useLocation();
  const versions = useLoad(() => call(client.GET('/api/v1/versions', { params: { query: { limit: 100 } } })), []);
  const chosen = versions.data?.items.find((v) => v.version_id === query.get('version'));
  return (
    <section aria-labelledby="models-title">
      <h1 id="models-title">My models</h1>
      <ErrorMessage error={versions.error} />
      {versions.data?.items.length === 0 && (
        <p>
          No models yet. <Link to="/train">Train one</Link> from your photos.
        </p>
      )}
      <ul className="tiles">
        {versions.data?.items.map((v) => (
          <li key={v.version_id} className={v === chosen ? 'card chosen' : 'card'}>
            <h2>
              <Link to={`/models?version=${v.version_id}`}>
                {v.trigger_word} · {v.version_id.slice(0, 8)}
              </Link>
            </h2>
            <p>
              <StatusBadge status={v.status} progress={v.progress} live={false} />
            </p>
            <p className="hint">
              {v.images_left} of {v.images_total} images left · trained from {v.image_count} photos · {formatDate(v.created_at)}
            </p>
          </li>
        ))}
      </ul>
      {chosen && <ModelDetail key={chosen.version_id} version={chosen} onChange={versions.reload} />}
    </section>
  );
}

function ModelDetail({ version, onChange }: { version: Version; onChange: () => void }) {
  const [promptId, setPromptId] = useState<string>();
  const [galleryGeneration, setGalleryGeneration] = useState(0);
  return (
    <>
      {version.status === 'succeeded' ? (
        <PromptForm version={version} onStarted={setPromptId} />
      ) : (
        <p>This model is {version.status}; it takes prompts once trained.</p>
      )}
      {promptId && (
        <PromptView
          key={promptId}
          promptId={promptId}
          onFinished={() => {
            setGalleryGeneration((g) => g + 1);
            onChange();
          }}
        />
      )}
      <Gallery key={galleryGeneration} versionId={version.version_id} />
    </>
  );
}

function PromptForm({ version, onStarted }: { version: Version; onStarted: (promptId: string) => void }) {
  const [prompt, setPrompt] = useState(`${version.trigger_word} `);
  const [numOutputs, setNumOutputs] = useState(1);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const started = await call(
        client.POST('/api/v1/prompts/create/{version_id}', { params: { path: { version_id: version.version_id } }, body: { prompt, num_outputs: numOutputs } }),
      );
      onStarted(started.prompt_id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} className="card" aria-label="Prompt this model">
      <label>
        Prompt (use <code>{version.trigger_word}</code> for your subject)
        <textarea required rows={2} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <label>
        Images
        <input type="number" min={1} max={4} value={numOutputs} onChange={(e) => setNumOutputs(Number(e.target.value))} />
      </label>
      <ErrorMessage error={error} />
      {(error as { code?: string } | undefined)?.code === 'quota_exceeded' && (
        <p>
          <Link to="/billing">Add images to this model</Link>
        </p>
      )}
      <button type="submit" disabled={busy}>
        Generate
      </button>
    </form>
  );
}

function PromptView({ promptId, onFinished }: { promptId: string; onFinished: () => void }) {
  const [prompt, setPrompt] = useState<Prompt>();
  const [error, setError] = useState<unknown>();
  useEffect(
    () =>
      watch<Prompt>({
        events: (signal) => answer(client.GET('/api/v1/prompts/{prompt_id}/events', { params: { path: { prompt_id: promptId } }, parseAs: 'stream', signal })),
        read: () => call(client.GET('/api/v1/prompts/{prompt_id}', { params: { path: { prompt_id: promptId } } })),
        onUpdate: setPrompt,
        onError: setError,
      }),
    [promptId],
  );
  const finished = prompt && ['succeeded', 'failed', 'canceled'].includes(prompt.status);
  useEffect(() => {
    // Once per prompt, when it finishes.
    if (finished) onFinished();
  }, [finished]); // onFinished is left out on purpose: a new closure must not report twice
  return (
    <article className="card" aria-labelledby="prompt-title" data-testid="prompt">
      <h2 id="prompt-title">Prompt {prompt && <StatusBadge status={prompt.status} />}</h2>
      {prompt && <p className="hint">“{prompt.prompt}” · its images appear in the gallery below</p>}
      <ErrorMessage error={error} />
      {prompt?.error && (
        <p role="alert" className="error">
          {prompt.error.code}: {prompt.error.message}
        </p>
      )}
    </article>
  );
}

/** GET /prompts/list/{version}: the model's prompts, newest first, page by page. */
function Gallery({ versionId }: { versionId: string }) {
  const [items, setItems] = useState<Schemas['PromptSummary'][]>([]);
  const [cursor, setCursor] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<unknown>();
  const load = async (after?: string) => {
    try {
      const page = await call(client.GET('/api/v1/prompts/list/{version_id}', { params: { path: { version_id: versionId }, query: { limit: 20, cursor: after } } }));
      setItems((current) => (after ? [...current, ...page.items] : page.items));
      setCursor(page.next_cursor);
    } catch (err) {
      setError(err);
    }
  };
  useEffect(() => {
    // The first page, once per gallery: the parent remounts it to refresh.
    void load();
  }, []); // load is left out on purpose, see above
  return (
    <section aria-labelledby="gallery-title">
      <h2 id="gallery-title">Gallery</h2>
      <ErrorMessage error={error} />
      {items.length === 0 && cursor !== undefined && <p>No prompts yet.</p>}
      <ul className="gallery">
        {items.map((p) => (
          <li key={p.prompt_id} className="card">
            <p>
              “{p.prompt}” <StatusBadge status={p.status} live={false} />
            </p>
            <div className="images">
              {p.images.map((img) => (
                <a key={img.id} href={img.url} target="_blank" rel="noreferrer">
                  <img src={img.url} alt={p.prompt} width={img.width ?? undefined} height={img.height ?? undefined} />
                </a>
              ))}
            </div>
            <p className="hint">{formatDate(p.created_at)}</p>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" onClick={() => void load(cursor)}>
          Load more
        </button>
      )}
    </section>
  );
}
