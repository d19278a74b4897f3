/**
 * The console's only way to the service: the public HTTP API under /api/v1, through the typed
 * client generated from the API's OpenAPI document (clients/typescript), with the user's API key
 * as a Bearer token. Paths, bodies and answers are the document's types; errors keep the API's
 * stable code and details.
 */
import { createImagegenClient, type operations, type Schemas } from '../../clients/typescript';

export type { Schemas };

/** The JSON body of an operation's 200 answer, for answers the document does not name: `OkBody<'listWebhookDeliveries'>`. */
export type OkBody<O extends keyof operations> = operations[O]['responses'] extends { 200: { content: { 'application/json': infer B } } } ? B : never;

const KEY_STORAGE = 'imagegen.apiKey';

// The key lives in sessionStorage: it ends with the tab, and is not left on a shared computer or read
// by another tab. A key an earlier version kept in localStorage is removed.
localStorage.removeItem(KEY_STORAGE);
export const storedApiKey = (): string | null => sessionStorage.getItem(KEY_STORAGE);
export const storeApiKey = (key: string): void => sessionStorage.setItem(KEY_STORAGE, key);
export const forgetApiKey = (): void => sessionStorage.removeItem(KEY_STORAGE);

/** The API this page was served from, with the stored key on every request that sets no Authorization of its own. */
export const client = createImagegenClient({ baseUrl: '', apiKey: storedApiKey });

/** Headers of a request made with another key than the stored one (signing in). */
export const withKey = (key: string) => ({ Authorization: `Bearer ${key}` });

/**
 * A multipart body for the typed client: openapi-fetch sends FormData as it is (the browser sets its
 * boundary); the document types file parts as binary strings, which a File is not to the compiler.
 */
export const formBody = (form: FormData) => form as never;

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

/** What every call of the typed client resolves to. */
type Answer<D> = { data?: D; error?: unknown; response: Response };

/**
 * The data of a typed client call (`call(client.GET('/api/v1/balance'))`); throws ApiError unless
 * the API answered 2xx, and a `network_error` ApiError when it could not be reached.
 */
export async function call<D>(request: Promise<Answer<D>>): Promise<D> {
  return (await answer(request)).data as D;
}

/** The whole answer of a call that succeeded (its headers, its Response for a stream or a download). */
export async function answer<D>(request: Promise<Answer<D>>): Promise<Answer<D>> {
  let result: Answer<D>;
  try {
    result = await request;
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The API could not be reached. Check your connection and try again.');
  }
  if (!result.response.ok) throw toApiError(result.response.status, result.error);
  return result;
}

function toApiError(status: number, body: unknown): ApiError {
  const error = (body as Partial<Schemas['Error']> | null | undefined)?.error;
  return new ApiError(status, error?.code ?? 'http_error', error?.message ?? `The API answered ${status}`, error?.details);
}

export const errorText = (err: unknown): string => (err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err));

// ---- the shapes the console reads, as the OpenAPI document names them ----

export type Balance = Schemas['Balance'];
export type FieldSpec = Schemas['InputField'];
export type CatalogModel = Schemas['CatalogModel'];
export type JobOutput = Schemas['JobOutput'];
export type Job = Schemas['Job'];
export type CreditPack = Schemas['CreditPack'];
export type Plan = Schemas['Plan'];
export type Payment = Schemas['Payment'];
export type Version = Schemas['Version'];
export type PromptImage = Schemas['PromptImage'];
export type Prompt = Schemas['Prompt'];
export type UsageEntry = Schemas['UsageEntry'];
export type ConsoleConfig = Schemas['ConsoleConfig'];
export type ApiKey = Schemas['ApiKey'];
export type CreatedApiKey = Schemas['CreatedApiKey'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];

export type RunStatus = Job['status'] | Version['status'] | Prompt['status'];
export const isFinal = (status: RunStatus) => status === 'succeeded' || status === 'failed' || status === 'canceled';

export const money = (cents: number, currency: string) => new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(cents / 100);
