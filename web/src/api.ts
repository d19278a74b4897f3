/**
 * The console's only way to the service: the public HTTP API under /api/v1, with the user's
 * API key as a Bearer token. Errors keep the API's stable code and details.
 */

const KEY_STORAGE = 'imagegen.apiKey';

// The key lives in sessionStorage: it ends with the tab, and is not left on a shared computer or read
// by another tab. A key an earlier version kept in localStorage is removed.
localStorage.removeItem(KEY_STORAGE);
export const storedApiKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const storeApiKey = (key: string): void => sessionStorage.setItem(KEY_STORAGE, key);
export const forgetApiKey = (): void => sessionStorage.removeItem(KEY_STORAGE);

/** An answer of the API's error shape: `{ error: { code, message, details? } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  json?: unknown;
  form?: FormData;
  query?: Record<string, string | number | undefined>;
  /** Defaults to the stored key; null sends none. */
  apiKey?: string | null;
  signal?: AbortSignal;
}

/** The raw Response of an authorized request (downloads, event streams); throws ApiError unless 2xx. */
export async function apiResponse(path: string, opts: RequestOptions = {}): Promise<Response> {
  const key = opts.apiKey === undefined ? storedApiKey() : opts.apiKey;
  const headers: Record<string, string> = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (opts.json !== undefined) headers['Content-Type'] = 'application/json';
  const query = Object.entries(opts.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined);
  const url = `/api/v1${path}${query.length ? `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)]))}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? (opts.json !== undefined || opts.form ? 'POST' : 'GET'),
      headers,
      body: opts.form ?? (opts.json !== undefined ? JSON.stringify(opts.json) : undefined),
      signal: opts.signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The API could not be reached. Check your connection and try again.');
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

/** A JSON request to the API. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return (await (await apiResponse(path, opts)).json()) as T;
}

async function toApiError(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; details?: unknown } } | null;
  const error = body?.error;
  return new ApiError(res.status, error?.code ?? 'http_error', error?.message ?? `The API answered ${res.status}`, error?.details);
}

export const errorText = (err: unknown): string => (err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err));

// ---- the shapes the console reads (see the API's OpenAPI document at /docs) ----

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Balance {
  credits: number;
  reserved: number;
}

export interface FieldSpec {
  type: 'string' | 'integer' | 'number' | 'boolean';
  description: string;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  multipleOf?: number;
  maxLength?: number;
  default?: string | number | boolean;
}

export interface CatalogModel {
  name: string;
  kind: 'image' | 'audio' | string;
  description: string;
  input: { prompt: boolean; file: { media_types: string[] } | null; parameters: Record<string, FieldSpec> };
  price: { credits: number; per: 'run' | 'output'; summary: string };
}

export interface JobOutput {
  index: number;
  url: string;
  content_type: string;
  size_bytes: number;
  width?: number;
  height?: number;
}

export type RunStatus = 'queued' | 'starting' | 'running' | 'succeeded' | 'failed' | 'canceled' | string;
export const isFinal = (status: RunStatus) => status === 'succeeded' || status === 'failed' || status === 'canceled';

export interface Job {
  job_id: string;
  status: RunStatus;
  model: string;
  prompt: string | null;
  num_outputs: number;
  credits_spent: number | null;
  error: { code: string; message: string } | null;
  created_at: string;
  outputs: JobOutput[];
}

export interface CreditPack {
  id: string;
  name: string;
  description: string | null;
  credits: number;
  price_cents: number;
  currency: string;
}

export interface Plan {
  id: string;
  name: string;
  description: string | null;
  price_cents: number;
  currency: string;
  images: number;
  is_init: boolean;
}

export interface Payment {
  payment_id: string;
  status: string;
  plan: Plan;
  version_id: string | null;
  checkout_url: string | null;
  created_at: string;
}

export interface Version {
  version_id: string;
  status: RunStatus;
  progress?: number;
  trigger_word: string;
  payment_id: string;
  image_count: number;
  images_total: number;
  images_used: number;
  images_reserved: number;
  images_left: number;
  created_at: string;
  error: { code: string; message: string } | null;
}

export interface PromptImage {
  id: string;
  url: string;
  width: number | null;
  height: number | null;
}

export interface Prompt {
  prompt_id: string;
  prompt: string;
  status: RunStatus;
  error?: { code: string; message: string } | null;
  created_at: string;
  images: PromptImage[];
}

export interface UsageEntry {
  job_id: string;
  model: string;
  status: RunStatus;
  credits_spent: number | null;
  created_at: string;
  completed_at: string | null;
}

export interface ConsoleConfig {
  test_checkout: boolean;
}

export const money = (cents: number, currency: string) => new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
