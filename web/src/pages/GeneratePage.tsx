import { useEffect, useState, type FormEvent } from 'react';
import { answer, call, client, formBody, type CatalogModel, type FieldSpec, type Job, type JobOutput } from '../api';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorMessage, formatBytes, formatDate, Link, StatusBadge, useLoad } from '../ui';
import { watch } from '../watch';

type ParameterValues = Record<string, string>;

/** Run a catalog model (POST /generate) and watch the job until its outputs are stored. */
export function GeneratePage() {
  const { query } = useLocation();
  const jobId = query.get('job');
  const models = useLoad(() => call(client.GET('/api/v1/models')), []);
  return (
    <section aria-labelledby="generate-title">
      <h1 id="generate-title">Run a model</h1>
      <ErrorMessage error={models.error} />
      {models.data && <GenerateForm models={models.data.items} onStarted={(id, sync) => navigate(`/?job=${id}${sync ? `&sync=${sync}` : ''}`)} />}
      {jobId && <JobView key={jobId} jobId={jobId} sync={query.get('sync')} />}
    </section>
  );
}

/** A sync run holds the request this long at most (Prefer: wait=N); a job not final by then is followed like any other. */
const SYNC_WAIT_SECONDS = 60;

/** `onStarted(jobId, sync)`: sync is the status a sync run answered (201 final, 202 still running). */
function GenerateForm({ models, onStarted }: { models: CatalogModel[]; onStarted: (jobId: string, sync?: number) => void }) {
  const { refreshBalance } = useSession();
  const [modelName, setModelName] = useState(models[0]?.name ?? '');
  const [prompt, setPrompt] = useState('');
  const [numOutputs, setNumOutputs] = useState(1);
  const [parameters, setParameters] = useState<ParameterValues>({});
  const [file, setFile] = useState<File | null>(null);
  const [sync, setSync] = useState(false);
  const [maxCredits, setMaxCredits] = useState('');
  const [webhook, setWebhook] = useState('');
  const [retention, setRetention] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const model = models.find((m) => m.name === modelName);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!model) return;
    setBusy(true);
    setError(undefined);
    try {
      const inputFile = model.input.file && file ? await upload(file) : undefined;
      const started = await answer(
        client.POST('/api/v1/generate', {
          params: { header: sync ? { Prefer: `wait=${SYNC_WAIT_SECONDS}` } : {} },
          body: {
            model: model.name,
            ...(model.input.prompt ? { prompt } : {}),
            ...(model.kind === 'image' ? { num_outputs: numOutputs } : {}),
            ...(inputFile ? { input_file: inputFile } : {}),
            ...(maxCredits ? { max_credits: Number(maxCredits) } : {}),
            ...(webhook.trim() ? { webhook: webhook.trim() } : {}),
            ...(retention.trim() ? { retention: /^\d+$/.test(retention.trim()) ? Number(retention.trim()) : retention.trim() } : {}),
            parameters: typedParameters(model.input.parameters, parameters),
          },
        }),
      );
      refreshBalance();
      onStarted(started.data!.job_id, sync ? started.response.status : undefined);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} className="card" aria-label="Run a model">
      <div className="field">
        <label htmlFor="model">Model</label>
        <select
          id="model"
          value={modelName}
          onChange={(e) => {
            setModelName(e.target.value);
            setParameters({});
          }}
        >
          {models.map((m) => (
            <option key={m.name} value={m.name}>
              {m.name} ({m.kind})
            </option>
          ))}
        </select>
      </div>
      {model && (
        <p className="hint">
          {model.description} · {model.price.summary}
        </p>
      )}
      {model?.input.prompt && (
        <div className="field">
          <label htmlFor="prompt">Prompt</label>
          <textarea id="prompt" required rows={3} maxLength={4000} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
        </div>
      )}
      {model?.input.file && (
        <div className="field">
          <label htmlFor="input-file">Input file ({model.input.file.media_types.join(', ')})</label>
          <input id="input-file" type="file" required accept={model.input.file.media_types.join(',')} onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        </div>
      )}
      {model?.kind === 'image' && (
        <div className="field">
          <label htmlFor="num-outputs">Number of outputs</label>
          <input id="num-outputs" type="number" min={1} max={4} value={numOutputs} onChange={(e) => setNumOutputs(Number(e.target.value))} />
        </div>
      )}
      {model && Object.keys(model.input.parameters).length > 0 && (
        <fieldset>
          <legend>Parameters</legend>
          {Object.entries(model.input.parameters).map(([name, spec]) => (
            <ParameterField key={name} name={name} spec={spec} value={parameters[name] ?? ''} onChange={(v) => setParameters((p) => ({ ...p, [name]: v }))} />
          ))}
        </fieldset>
      )}
      <div className="field">
        <label htmlFor="max-credits">Spend cap (credits, optional)</label>
        <input id="max-credits" type="number" min={1} step={1} value={maxCredits} onChange={(e) => setMaxCredits(e.target.value)} aria-describedby="max-credits-hint" />
        <small id="max-credits-hint" className="hint">
          The job is refused, before anything is reserved, if it would cost more (max_credits).
        </small>
      </div>
      <div className="field">
        <label htmlFor="webhook">Webhook URL (optional)</label>
        <input id="webhook" type="url" value={webhook} onChange={(e) => setWebhook(e.target.value)} placeholder="https://example.com/hooks/imagegen" />
      </div>
      <div className="field">
        <label htmlFor="retention">Keep the outputs for (optional)</label>
        <input id="retention" value={retention} onChange={(e) => setRetention(e.target.value)} placeholder="P7D, PT12H or seconds" aria-describedby="retention-hint" />
        <small id="retention-hint" className="hint">
          After that the files are deleted from our bucket; the job and the outputs&apos; metadata stay.
        </small>
      </div>
      <label className="check">
        <input type="checkbox" checked={sync} onChange={(e) => setSync(e.target.checked)} /> Wait for the result in the request (sync run, <code>Prefer: wait</code>)
      </label>
      <ErrorMessage error={error} />
      {isCreditsError(error) && (
        <p>
          <Link to="/billing">Buy credits</Link>
        </p>
      )}
      <button type="submit" disabled={busy || !model}>
        Run
      </button>
    </form>
  );
}

const isCreditsError = (err: unknown) => (err as { code?: string } | undefined)?.code === 'insufficient_credits';

async function upload(file: File): Promise<string> {
  const form = new FormData();
  form.append('file', file);
  return (await call(client.POST('/api/v1/uploads', { body: formBody(form) }))).upload_id;
}

/** One input field from the model's contract (`input.parameters`); empty means the model's default. */
function ParameterField({ name, spec, value, onChange }: { name: string; spec: FieldSpec; value: string; onChange: (v: string) => void }) {
  const hint = [spec.description, spec.default !== undefined ? `default ${String(spec.default)}` : ''].filter(Boolean).join(' · ');
  const id = `param-${name}`;
  let control;
  if (spec.enum || spec.type === 'boolean') {
    const options = spec.enum ?? ['true', 'false'];
    control = (
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={`${id}-hint`}>
        <option value="">Default</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  } else if (spec.type === 'integer' || spec.type === 'number') {
    control = (
      <input
        id={id}
        type="number"
        min={spec.minimum}
        max={spec.maximum}
        step={spec.multipleOf ?? (spec.type === 'integer' ? 1 : 'any')}
        value={value}
        placeholder={spec.default !== undefined ? String(spec.default) : ''}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-hint`}
      />
    );
  } else {
    control = <input id={id} type="text" maxLength={spec.maxLength} value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={`${id}-hint`} />;
  }
  return (
    <div className="field">
      <label htmlFor={id}>{name}</label>
      {control}
      <small id={`${id}-hint`} className="hint">
        {hint}
      </small>
    </div>
  );
}

/** The filled-in fields, typed as the contract says (the API checks ranges and enums). */
function typedParameters(specs: Record<string, FieldSpec>, values: ParameterValues): Record<string, unknown> {
  const typed: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(values)) {
    const spec = specs[name];
    if (!spec || raw === '') continue;
    typed[name] = spec.type === 'boolean' ? raw === 'true' : spec.type === 'integer' || spec.type === 'number' ? Number(raw) : raw;
  }
  return typed;
}

/** A job, live: its status until it finishes, then its outputs with download links. */
export function JobView({ jobId, sync }: { jobId: string; sync?: string | null }) {
  const { refreshBalance } = useSession();
  const [job, setJob] = useState<Job>();
  const [error, setError] = useState<unknown>();
  useEffect(
    () =>
      watch<Job>({
        events: (signal) => answer(client.GET('/api/v1/jobs/{job_id}/events', { params: { path: { job_id: jobId } }, parseAs: 'stream', signal })),
        read: () => call(client.GET('/api/v1/status/{job_id}', { params: { path: { job_id: jobId } } })),
        onUpdate: setJob,
        onError: setError,
      }),
    [jobId],
  );
  useEffect(() => {
    if (job && ['succeeded', 'failed', 'canceled'].includes(job.status)) refreshBalance();
  }, [job, refreshBalance]);

  return (
    <article className="card job" aria-labelledby="job-title" data-testid="job">
      <h2 id="job-title">
        Job <code>{jobId.slice(0, 8)}</code> {job && <StatusBadge status={job.status} />}
      </h2>
      <ErrorMessage error={error} />
      {sync && (
        <p className="hint" data-testid="sync-answer">
          {sync === '201' ? 'Sync run: the request answered with the finished job (201).' : 'Sync run: still running when the wait ended (202); followed live.'}
        </p>
      )}
      {job && (
        <>
          <p className="hint">
            {job.model}
            {job.prompt ? ` · “${job.prompt}”` : ''}
            {job.credits_spent !== null ? ` · ${job.credits_spent} credits` : ''}
          </p>
          <p className="hint">
            <Link to={`/webhooks?resource=job:${jobId}`}>Webhook deliveries of this job</Link>
          </p>
          {job.error && (
            <p role="alert" className="error">
              {job.error.code}: {job.error.message}
            </p>
          )}
          <ul className="outputs">
            {job.outputs.map((o) => (
              <li key={o.index}>
                <OutputPreview output={o} label={`Output ${o.index + 1} of job ${jobId.slice(0, 8)}`} />
                {o.url !== null && <DownloadButton jobId={jobId} output={o} />}
                {o.url !== null && o.expires_at && <small className="hint">Kept until {formatDate(o.expires_at)}</small>}
              </li>
            ))}
          </ul>
          {job.outputs.some((o) => o.url !== null) && <DeleteOutputs jobId={jobId} onDeleted={setJob} />}
        </>
      )}
    </article>
  );
}

/** DELETE /jobs/{id}/outputs: the files go from our bucket now; the job and the outputs' metadata stay. */
function DeleteOutputs({ jobId, onDeleted }: { jobId: string; onDeleted: (job: Job) => void }) {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>();
  const remove = async () => {
    setError(undefined);
    try {
      onDeleted(await call(client.DELETE('/api/v1/jobs/{job_id}/outputs', { params: { path: { job_id: jobId } } })));
    } catch (err) {
      setError(err);
    }
  };
  return (
    <div className="row">
      {confirming ? (
        <>
          <button type="button" onClick={() => void remove()}>
            Delete the files now
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Keep them
          </button>
        </>
      ) : (
        <button type="button" onClick={() => setConfirming(true)}>
          Delete the output files
        </button>
      )}
      <ErrorMessage error={error} />
    </div>
  );
}

function OutputPreview({ output, label }: { output: JobOutput; label: string }) {
  if (output.url === null) {
    return (
      <p className="hint" data-testid="output-deleted">
        {label}: deleted {formatDate(output.deleted_at)}
      </p>
    );
  }
  if (output.content_type.startsWith('image/')) return <img src={output.url} alt={label} width={output.width} height={output.height} />;
  if (output.content_type.startsWith('audio/')) return <audio controls src={output.url} aria-label={label} />;
  return <p>{label}</p>;
}

const EXTENSIONS: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'audio/wav': 'wav', 'audio/x-wav': 'wav', 'audio/mpeg': 'mp3' };

/** Downloads an output through GET /download/{job_id} (the file streamed from our bucket, with the API key). */
function DownloadButton({ jobId, output }: { jobId: string; output: JobOutput }) {
  const [error, setError] = useState<unknown>();
  const download = async () => {
    setError(undefined);
    try {
      const blob = (await call(client.GET('/api/v1/download/{job_id}', { params: { path: { job_id: jobId }, query: { index: output.index } }, parseAs: 'blob' }))) as Blob;
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = `job-${jobId.slice(0, 8)}-${output.index + 1}.${EXTENSIONS[output.content_type] ?? 'bin'}`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <>
      <button type="button" onClick={() => void download()}>
        Download output {output.index + 1} ({formatBytes(output.size_bytes)})
      </button>
      <ErrorMessage error={error} />
    </>
  );
}
