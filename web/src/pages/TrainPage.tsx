import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, apiResponse, type Payment, type Version } from '../api';
import { rememberedPayments } from '../payments-store';
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
      const started = await (await apiResponse(`/versions/train/${encodeURIComponent(paymentId.trim())}`, { form })).json();
      setVersionId((started as { version_id: string }).version_id);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_images') setProblems(err.details as PhotoProblems);
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
        {problems && problems.problems.length > 0 && (
          <ul className="error" role="alert" aria-label="Problems with the upload">
            {problems.problems.map((p) => (
              <li key={p.code}>{p.message}</li>
            ))}
          </ul>
        )}
        <ErrorMessage error={error} />
        <ul className="photos" aria-label="Selected photos">
          {photos.map((photo, i) => (
            <PhotoItem key={`${photo.file.name}-${i}`} photo={photo} issues={issuesByName.get(photo.file.name)} onRemove={() => removePhoto(photo)} />
          ))}
        </ul>
        <button type="submit" disabled={busy || photos.length === 0 || !paymentId.trim()}>
          Start training
        </button>
      </form>
      {versionId && <TrainingView key={versionId} versionId={versionId} />}
    </section>
  );
}

function PhotoItem({ photo, issues, onRemove }: { photo: Photo; issues: Issue[] | undefined; onRemove: () => void }) {
  const problemId = `problems-${photo.preview.slice(-12)}`;
  return (
    <li className={issues ? 'photo has-problems' : 'photo'} data-filename={photo.file.name} aria-describedby={issues ? problemId : undefined}>
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
      <button type="button" onClick={onRemove} aria-label={`Remove ${photo.file.name}`}>
        Remove
      </button>
    </li>
  );
}

/** The payment to train with: one made in this browser, or any payment id pasted. */
function PaymentChoice({ value, onChange }: { value: string; onChange: (id: string) => void }) {
  const payments = useLoad(() => Promise.all(rememberedPayments().map((id) => api<Payment>(`/payments/${id}`).catch(() => undefined))), []);
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
        eventsPath: `/versions/${versionId}/events`,
        read: () => api<Version>(`/versions/info/${versionId}`),
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
