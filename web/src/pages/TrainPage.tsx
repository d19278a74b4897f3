import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { answer, ApiError, call, client, formBody, type Payment, type Version } from '../api';
import { rememberedIds } from '../remembered';
import { useLocation } from '../router';
import { ErrorMessage, formatBytes, Link, StatusBadge, useLoad } from '../ui';
import { watch } from '../watch';

interface Issue {
  code: string;
  message: string;
}

/** The 422 invalid_images details: problems of single photos, by file name, and of the upload as a whole. */
interface PhotoProblems {
  files: Array<{ filename: string; issues: Issue[] }>;
  problems: Issue[];
}

interface Photo {
  file: File;
  preview: string;
}

/** One finding of POST /photos/inspect: an error blocks the training, a warning does not. */
interface Finding {
  code: string;
  severity: 'error' | 'warning';
  index: number | null;
  filename: string | null;
  message: string;
}

/** What POST /photos/inspect answers (the fields the console shows). */
interface Inspection {
  ok: boolean;
  errors: number;
  warnings: number;
  findings: Finding[];
  /** The training upload refuses a set with an error: only then does an error block the button. */
  training_refuses_errors: boolean;
}

/** Wait this long after the last change to the chosen photos before inspecting them. */
const INSPECT_DELAY_MS = 400;

const MIN_PHOTOS = 10;
const MAX_PHOTOS = 30;

/** Upload 10–30 photos for a paid base plan (POST /versions/train/{payment_id}) and watch the training. */
export function TrainPage() {
  const { query } = useLocation();
  const [paymentId, setPaymentId] = useState(query.get('payment') ?? '');
  const [triggerWord, setTriggerWord] = useState('TOK');
  const [photos, setPhotos] = useState<Photo[]>([]);
  const [problems, setProblems] = useState<PhotoProblems>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [versionId, setVersionId] = useState<string>();
  const [inspection, setInspection] = useState<{ photos: Photo[]; report?: Inspection; error?: unknown }>();

  // The photos are inspected (faces, sharpness, exposure, the same person) whenever the choice
  // changes; only the answer for the current choice is kept.
  useEffect(() => {
    if (photos.length === 0) {
      setInspection(undefined);
      return;
    }
    setInspection({ photos });
    let current = true;
    const timer = setTimeout(() => {
      const form = new FormData();
      for (const p of photos) form.append('images', p.file, p.file.name);
      call(client.POST('/api/v1/photos/inspect', { body: formBody(form) }))
        .then((res) => res as Inspection)
        .then(
          (report) => current && setInspection({ photos, report }),
          (err: unknown) => current && setInspection({ photos, error: err }),
        );
    }, INSPECT_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [photos]);
  const report = inspection?.photos === photos ? inspection.report : undefined;
  const inspecting = photos.length > 0 && !report && !inspection?.error;
  const findingsAt = (i: number) => (report?.findings ?? []).filter((f) => f.index === i);
  const blocked = report !== undefined && report.errors > 0 && report.training_refuses_errors;

  // Previews are object URLs: released when a photo is removed or the page is left.
  const shown = useRef(photos);
  shown.current = photos;
  useEffect(() => () => shown.current.forEach((p) => URL.revokeObjectURL(p.preview)), []);
  const issuesByName = useMemo(() => new Map((problems?.files ?? []).map((f) => [f.filename, f.issues])), [problems]);

  const addPhotos = (files: FileList | null) => {
    const added = [...(files ?? [])].map((file) => ({ file, preview: URL.createObjectURL(file) }));
    setPhotos((current) => [...current, ...added]);
    setProblems(undefined);
  };
  const removePhoto = (photo: Photo) => {
    URL.revokeObjectURL(photo.preview);
    setPhotos((current) => current.filter((p) => p !== photo));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setProblems(undefined);
    try {
      const form = new FormData();
      form.append('trigger_word', triggerWord);
      for (const p of photos) form.append('images', p.file, p.file.name);
      const started = await call(client.POST('/api/v1/versions/train/{payment_id}', { params: { path: { payment_id: paymentId.trim() } }, body: formBody(form) }));
      setVersionId(started.version_id);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_images') {
        const details = err.details as PhotoProblems & { findings?: Finding[] };
        setProblems(details);
        // The upload's own inspection: show it on the photos, as the inspect call would.
        if (details.findings) {
          const findings = details.findings;
          const errors = findings.filter((f) => f.severity === 'error').length;
          setInspection({ photos, report: { ok: errors === 0, errors, warnings: findings.length - errors, findings, training_refuses_errors: true } });
        }
      }
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="train-title">
      <h1 id="train-title">Train a model</h1>
      <p>
        Upload {MIN_PHOTOS}–{MAX_PHOTOS} photos of one subject (JPEG, PNG or WebP, both sides at least 512 px). Training needs a paid base plan:{' '}
        <Link to="/billing">buy one</Link>.
      </p>
      <form onSubmit={(e) => void submit(e)} className="card" aria-label="Training photos">
        <PaymentChoice value={paymentId} onChange={setPaymentId} />
        <label>
          Trigger word (the word your prompts use for the subject)
          <input value={triggerWord} onChange={(e) => setTriggerWord(e.target.value)} pattern="[A-Za-z][A-Za-z0-9_]{1,31}" required />
        </label>
        <label>
          Photos
          <input
            type="file"
            multiple
            accept="image/jpeg,image/png,image/webp"
            onChange={(e) => {
              addPhotos(e.target.files);
              e.target.value = ''; // so choosing more photos (even the same ones) adds them again
            }}
            data-testid="photo-input"
          />
        </label>
        <p className="hint" aria-live="polite">
          {photos.length} photo{photos.length === 1 ? '' : 's'} selected ({MIN_PHOTOS}–{MAX_PHOTOS} needed)
        </p>
        <InspectionSummary inspecting={inspecting} report={report} error={inspection?.photos === photos ? inspection.error : undefined} />
        {problems && problems.problems.length > 0 && !report && (
          <ul className="error" role="alert" aria-label="Problems with the upload">
            {problems.problems.map((p) => (
              <li key={p.code}>{p.message}</li>
            ))}
          </ul>
        )}
        <ErrorMessage error={error} />
        <ul className="photos" aria-label="Selected photos">
          {photos.map((photo, i) => {
            // The training upload's own answer first; the inspection's findings it does not already say.
            const issues = issuesByName.get(photo.file.name);
            return (
              <PhotoItem
                key={`${photo.file.name}-${i}`}
                photo={photo}
                issues={issues}
                findings={findingsAt(i).filter((f) => !issues?.some((issue) => issue.code === f.code))}
                onRemove={() => removePhoto(photo)}
              />
            );
          })}
        </ul>
        <button type="submit" disabled={busy || inspecting || blocked || photos.length === 0 || !paymentId.trim()}>
          Start training
        </button>
        {blocked && <p className="hint">Fix or remove the photos marked as errors to start the training.</p>}
        {report && report.errors > 0 && !report.training_refuses_errors && (
          <p className="hint">This service trains anyway; the photos marked as errors are likely to make a poor model.</p>
        )}
      </form>
      {versionId && <TrainingView key={versionId} versionId={versionId} />}
    </section>
  );
}

/** The inspection's verdict on the whole set: counts, and the findings that are about no single photo. */
function InspectionSummary({ inspecting, report, error }: { inspecting: boolean; report: Inspection | undefined; error: unknown }) {
  if (inspecting) return <p className="hint" aria-live="polite">Inspecting the photos…</p>;
  if (error) return <ErrorMessage error={error} />;
  if (!report) return null;
  const setLevel = report.findings.filter((f) => f.index === null);
  return (
    <div data-testid="inspection" aria-live="polite">
      <p className={report.errors > 0 ? 'error' : 'hint'}>
        {report.errors === 0 && report.warnings === 0
          ? 'Every photo looks good: one face, the same person, sharp and well lit.'
          : `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'}`}
      </p>
      {setLevel.length > 0 && (
        <ul className="error" role="alert" aria-label="Problems with the set">
          {setLevel.map((f) => (
            <li key={f.code}>{f.message}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function PhotoItem({ photo, issues, findings, onRemove }: { photo: Photo; issues: Issue[] | undefined; findings: Finding[]; onRemove: () => void }) {
  const problemId = `problems-${photo.preview.slice(-12)}`;
  const findingsId = `findings-${photo.preview.slice(-12)}`;
  const hasError = findings.some((f) => f.severity === 'error');
  return (
    <li
      className={issues || hasError ? 'photo has-problems' : 'photo'}
      data-filename={photo.file.name}
      aria-describedby={issues ? problemId : findings.length > 0 ? findingsId : undefined}
    >
      <img src={photo.preview} alt={photo.file.name} />
      <span className="name">{photo.file.name}</span>
      <span className="hint">{formatBytes(photo.file.size)}</span>
      {issues && (
        <ul id={problemId} className="error" data-testid="photo-problems">
          {issues.map((issue) => (
            <li key={issue.code}>{issue.message}</li>
          ))}
        </ul>
      )}
      {findings.length > 0 && (
        <ul id={findingsId} data-testid="photo-findings">
          {findings.map((f) => (
            <li key={f.code} className={f.severity === 'error' ? 'error' : 'hint'} data-code={f.code} data-severity={f.severity}>
              {f.severity === 'error' ? 'Error' : 'Warning'}: {f.message}
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={onRemove} aria-label={`Remove ${photo.file.name}`}>
        Remove
      </button>
    </li>
  );
}

/** The payment to train with: one made in this browser, or any payment id pasted. */
function PaymentChoice({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const payments = useLoad(async () => Promise.all((await rememberedIds('payments')).map((id) => call(client.GET('/api/v1/payments/{payment_id}', { params: { path: { payment_id: id } } })).catch(() => undefined))), []);
  const usable = (payments.data ?? []).filter((p): p is Payment => p !== undefined && p.status === 'paid' && p.plan.is_init);
  return (
    <>
      {usable.length > 0 && (
        <label>
          Paid plan
          <select value={value} onChange={(e) => onChange(e.target.value)}>
            <option value="">Choose…</option>
            {usable.map((p) => (
              <option key={p.payment_id} value={p.payment_id}>
                {p.plan.name} · {p.payment_id.slice(0, 8)}
              </option>
            ))}
          </select>
        </label>
      )}
      <label>
        Payment id
        <input value={value} onChange={(e) => onChange(e.target.value)} required placeholder="from Credits & plans" />
      </label>
    </>
  );
}

/** A training, live: validating → uploading → training (with progress) → succeeded. */
function TrainingView({ versionId }: { versionId: string }) {
  const [version, setVersion] = useState<Version>();
  const [error, setError] = useState<unknown>();
  useEffect(
    () =>
      watch<Version>({
        events: (signal) => answer(client.GET('/api/v1/versions/{version_id}/events', { params: { path: { version_id: versionId } }, parseAs: 'stream', signal })),
        read: () => call(client.GET('/api/v1/versions/info/{version_id}', { params: { path: { version_id: versionId } } })),
        onUpdate: setVersion,
        onError: setError,
      }),
    [versionId],
  );
  return (
    <article className="card" aria-labelledby="training-title" data-testid="training">
      <h2 id="training-title">
        Model <code>{versionId.slice(0, 8)}</code> {version && <StatusBadge status={version.status} progress={version.progress} />}
      </h2>
      <ErrorMessage error={error} />
      {version?.progress !== undefined && version.status !== 'succeeded' && <progress max={1} value={version.progress} aria-label="Training progress" />}
      {version?.error && (
        <p role="alert" className="error">
          {version.error.code}: {version.error.message}
        </p>
      )}
      {version?.status === 'succeeded' && (
        <p>
          Trained. <Link to={`/models?version=${versionId}`}>Prompt it</Link>
        </p>
      )}
    </article>
  );
}
