import Replicate, { type ApiError } from 'replicate';
import { ErrorCode } from '../error-codes';

/** A prediction (or training) as Replicate returns it; only the fields we use. */
export interface ProviderPrediction {
  id: string;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  model?: string;
  version?: string;
  input?: Record<string, unknown>;
  output?: unknown;
  error?: unknown;
  /** The webhook URL it was created with, when it has one. */
  webhook?: string | null;
  logs?: string | null;
  metrics?: Record<string, unknown> | null;
  created_at?: string;
  started_at?: string | null;
  completed_at?: string | null;
}

/** A provider answer other than success, classified by one of our error codes. */
export class ProviderError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly status: number,
    /** Seconds until the provider's rate-limit window frees (429 only). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface Provider {
  createPrediction(req: {
    model: string;
    input: Record<string, unknown>;
    webhook?: string;
    webhookEventsFilter?: Array<'start' | 'output' | 'logs' | 'completed'>;
  }): Promise<ProviderPrediction>;
  getPrediction(id: string): Promise<ProviderPrediction>;
  cancelPrediction(id: string): Promise<ProviderPrediction>;
  getWebhookSecret(): Promise<string>;
  /** The model, or null if it does not exist. */
  getModel(owner: string, name: string): Promise<{ owner: string; name: string } | null>;
  createModel(owner: string, name: string, opts: { description: string }): Promise<void>;
  createTraining(req: {
    /** "owner/name:version" of the trainer. */
    trainer: string;
    destination: string;
    input: Record<string, unknown>;
    webhook?: string;
  }): Promise<ProviderPrediction>;
  getTraining(id: string): Promise<ProviderPrediction>;
  cancelTraining(id: string): Promise<ProviderPrediction>;
  /**
   * The prediction an earlier attempt created at or after `createdAfter` for this model with
   * exactly this input and this webhook URL, or null. Replicate has no idempotency key, so
   * this is how a retried create finds the paid run it may already have started. The webhook
   * URL names the workflow run, so another job's run with the same input never matches.
   */
  findPrediction(req: RunLookup & { model: string }): Promise<ProviderPrediction | null>;
  /** The same for a training of `trainer`. */
  findTraining(req: RunLookup & { trainer: string }): Promise<ProviderPrediction | null>;
}

export interface RunLookup {
  input: Record<string, unknown>;
  webhook: string;
  createdAfter: Date;
}

/** How long one provider HTTP call may take before it fails (and Temporal retries it). */
export const PROVIDER_CALL_TIMEOUT_MS = 10_000;
/** How far back a lookup pages through the account's newest predictions or trainings. */
const LOOKUP_MAX_PAGES = 5;

const ORIGINAL_STATUS = 'x-provider-original-status';

/**
 * The replicate SDK retries 429 (and 5xx on GET) in a private loop with its own sleeps
 * (lib/util.js withAutomaticRetries), and it retries thrown fetch errors too. Retries
 * belong to Temporal's retry policies, where they are visible and bounded, so the fetch
 * we hand the SDK presents those answers as final (a 400 carrying the real status in a
 * header) and `classify` restores the real status.
 */
export function finalAnswerFetch(inner: typeof fetch = fetch, timeoutMs = PROVIDER_CALL_TIMEOUT_MS): typeof fetch {
  return async (input, init) => {
    // Every call has a deadline, so a provider that stops answering fails the activity in
    // seconds instead of holding it until its start-to-close timeout.
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    const res = await inner(input, { ...init, signal });
    if (res.status !== 429 && res.status < 500) return res;
    const headers = new Headers(res.headers);
    headers.set(ORIGINAL_STATUS, String(res.status));
    return new Response(await res.text(), { status: 400, statusText: res.statusText, headers });
  };
}

export function createProvider(opts: { apiToken: string; baseUrl: string; fetch?: typeof fetch; timeoutMs?: number }): Provider {
  const client = new Replicate({ auth: opts.apiToken, baseUrl: opts.baseUrl, fetch: finalAnswerFetch(opts.fetch, opts.timeoutMs) });
  const call = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw classify(err);
    }
  };

  return {
    createPrediction: ({ model, input, webhook, webhookEventsFilter }) => {
      const [name, version] = model.split(':');
      const target = version ? { version } : { model: name! };
      return call(
        () =>
          client.predictions.create({
            ...target,
            input,
            ...(webhook ? { webhook, webhook_events_filter: webhookEventsFilter ?? ['completed'] } : {}),
          }) as Promise<ProviderPrediction>,
      );
    },
    getPrediction: (id) => call(() => client.predictions.get(id) as Promise<ProviderPrediction>),
    cancelPrediction: (id) => call(() => client.predictions.cancel(id) as Promise<ProviderPrediction>),
    getWebhookSecret: () => call(async () => (await client.webhooks.default.secret.get()).key),
    getModel: async (owner, name) => {
      try {
        return await call(() => client.models.get(owner, name));
      } catch (err) {
        if (err instanceof ProviderError && err.code === ErrorCode.providerNotFound) return null;
        throw err;
      }
    },
    createModel: (owner, name, { description }) =>
      call(async () => {
        await client.models.create(owner, name, { visibility: 'private', hardware: 'gpu-t4', description });
      }),
    createTraining: ({ trainer, destination, input, webhook }) => {
      const [model, version] = trainer.split(':');
      const [owner, name] = model!.split('/');
      return call(
        () =>
          client.trainings.create(owner!, name!, version!, {
            destination: destination as `${string}/${string}`,
            input,
            ...(webhook ? { webhook, webhook_events_filter: ['start', 'completed'] } : {}),
          }) as Promise<ProviderPrediction>,
      );
    },
    getTraining: (id) => call(() => client.trainings.get(id) as Promise<ProviderPrediction>),
    cancelTraining: (id) => call(() => client.trainings.cancel(id) as Promise<ProviderPrediction>),
    findPrediction: ({ model, ...lookup }) => {
      const [name, version] = model.split(':');
      const sameTarget = (p: ProviderPrediction) => (version ? p.version === version : p.model === name);
      return call(() => findCreated(client, 'predictions', lookup, sameTarget, (id) => client.predictions.get(id)));
    },
    findTraining: ({ trainer, ...lookup }) => {
      const version = trainer.split(':')[1];
      return call(() => findCreated(client, 'trainings', lookup, (t) => t.version === version, (id) => client.trainings.get(id)));
    },
  };
}

/**
 * Pages through the account's predictions or trainings created at or after `createdAfter`
 * (newest first) and returns the one for the same target with exactly this webhook and
 * input. List entries may leave out fields, so a candidate of the right target is fetched
 * whole to compare.
 */
async function findCreated(
  client: Replicate,
  kind: 'predictions' | 'trainings',
  { input, webhook, createdAfter }: RunLookup,
  sameTarget: (p: ProviderPrediction) => boolean,
  get: (id: string) => Promise<unknown>,
): Promise<ProviderPrediction | null> {
  const wanted = canonicalJson(input);
  let url: string | null = `/${kind}?created_after=${encodeURIComponent(createdAfter.toISOString())}`;
  for (let page = 0; url && page < LOOKUP_MAX_PAGES; page++) {
    const res = await client.request(url, { method: 'GET' });
    const body = (await res.json()) as { next?: string | null; results?: ProviderPrediction[] };
    for (const candidate of body.results ?? []) {
      if (candidate.created_at && new Date(candidate.created_at) < createdAfter) return null;
      if (!sameTarget(candidate) || (candidate.webhook !== undefined && candidate.webhook !== webhook)) continue;
      const full = (candidate.input && candidate.webhook !== undefined ? candidate : await get(candidate.id)) as ProviderPrediction;
      if (full.webhook === webhook && canonicalJson(full.input ?? {}) === wanted) return full;
    }
    url = body.next ?? null;
  }
  return null;
}

/** JSON with object keys sorted, so two equal inputs compare equal whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** Maps any failure of a provider call to a ProviderError with one of our codes. */
export function classify(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (!isApiError(err)) {
    const message = err instanceof Error ? err.message : String(err);
    return new ProviderError(ErrorCode.providerUnavailable, `Provider unreachable: ${message}`, 0);
  }
  const res = err.response;
  const status = Number(res.headers.get(ORIGINAL_STATUS) ?? res.status);
  const detail = providerDetail(err.message);
  if (status === 429) {
    const retryAfter = retryAfterSeconds(res.headers.get('retry-after'), detail);
    return new ProviderError(ErrorCode.providerRateLimited, `Provider rate limit: ${detail}`, status, retryAfter);
  }
  if (status === 401 || status === 403) return new ProviderError(ErrorCode.providerAuthFailed, `Provider rejected our credentials: ${detail}`, status);
  if (status === 404) return new ProviderError(ErrorCode.providerNotFound, `Provider does not know this model or version: ${detail}`, status);
  if (status === 400 || status === 422) return new ProviderError(ErrorCode.providerValidationFailed, `Provider rejected the input: ${detail}`, status);
  return new ProviderError(ErrorCode.providerUnavailable, `Provider error ${status}: ${detail}`, status);
}

/** The SDK does not export its ApiError class; it is an Error carrying the response. */
function isApiError(err: unknown): err is ApiError {
  return err instanceof Error && (err as Partial<ApiError>).response instanceof Response;
}

/** The SDK's message embeds the response body; pull out Replicate's `detail` when present. */
function providerDetail(message: string): string {
  const body = message.match(/: (\{.*\})\.$/s)?.[1];
  if (body) {
    try {
      const parsed = JSON.parse(body) as { detail?: unknown; title?: unknown };
      if (typeof parsed.detail === 'string') return parsed.detail;
      if (typeof parsed.title === 'string') return parsed.title;
    } catch {
      // not JSON: fall through to the raw message
    }
  }
  return message;
}

/** `Retry-After: N`, or Replicate's "Your rate limit resets in ~Ns." */
export function retryAfterSeconds(header: string | null, detail: string): number {
  const fromHeader = header ? Number(header) : NaN;
  if (Number.isFinite(fromHeader) && fromHeader >= 0) return Math.max(1, Math.ceil(fromHeader));
  const fromDetail = detail.match(/resets in ~?(\d+(?:\.\d+)?)s/)?.[1];
  return fromDetail ? Math.max(1, Math.ceil(Number(fromDetail))) : 10;
}
