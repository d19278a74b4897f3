import { useEffect, useState, type FormEvent } from 'react';
import { api, apiResponse, type CatalogModel, type FieldSpec, type Job, type JobOutput } from '../api';
import { navigate, useLocation } from '../router';
import { useSession } from '../session';
import { ErrorMessage, formatBytes, Link, StatusBadge, useLoad } from '../ui';
import { watch } from '../watch';

type ParameterValues = Record<string, string>;

/** Run a catalog model (POST /generate) and watch the job until its outputs are stored. */
export function GeneratePage() {
  const { query } = useLocation();
  const jobId = query.get('job');
  const models = useLoad(() => api<{ items: CatalogModel[] }>('/models'), []);
  return (
    <section aria-labelledby="generate-title">
      <h1 id="generate-title">Run a model</h1>
      <ErrorMessage error={models.error} />
      {models.data && <GenerateForm models={models.data.items} onStarted={(id) => navigate(`/?job=${id}`)} />}
      {jobId && <JobView key={jobId} jobId={jobId} />}
    </section>
  );
}

function GenerateForm({ models, onStarted }: { models: CatalogModel[]; onStarted: (jobId: string) => void }) {
  const { refreshBalance } = useSession();
  const [modelName, setModelName] = useState(models[0]?.name ?? '');
  const [prompt, setPrompt] = useState('');
  const [numOutputs, setNumOutputs] = useState(1);
  const [parameters, setParameters] = useState<ParameterValues>({});
  const [file, setFile] = useState<File | null>(null);
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
      const job = await api<{ job_id: string }>('/generate', {
        json: {
          model: model.name,
          ...(model.input.prompt ? { prompt } : {}),
          ...(model.kind === 'image' ? { num_outputs: numOutputs } : {}),
          ...(inputFile ? { input_file: inputFile } : {}),
          parameters: typedParameters(model.input.parameters, parameters),
        },
      });
      refreshBalance();
      onStarted(job.job_id);
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
  return (await api<{ upload_id: string }>('/uploads', { form })).upload_id;
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
export function JobView({ jobId }: { jobId: string }) {
  const { refreshBalance } = useSession();
  const [job, setJob] = useState<Job>();
  const [error, setError] = useState<unknown>();
  useEffect(
    () =>
      watch<Job>({
        eventsPath: `/jobs/${jobId}/events`,
        read: () => api<Job>(`/status/${jobId}`),
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
      {job && (
        <>
          <p className="hint">
            {job.model}
            {job.prompt ? ` · “${job.prompt}”` : ''}
            {job.credits_spent !== null ? ` · ${job.credits_spent} credits` : ''}
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
                <DownloadButton jobId={jobId} output={o} />
              </li>
            ))}
          </ul>
        </>
      )}
    </article>
  );
}

function OutputPreview({ output, label }: { output: JobOutput; label: string }) {
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
      const blob = await (await apiResponse(`/download/${jobId}`, { query: { index: output.index } })).blob();
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
