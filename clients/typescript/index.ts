/**
 * The typed client of the imagegen API: openapi-fetch over the types that openapi-typescript
 * generates from the API's OpenAPI document (./schema.d.ts, `npm run client:generate`). Paths,
 * parameters, bodies and answers are checked by the compiler; nothing here is written by hand
 * but the Bearer API key.
 *
 *   const api = createImagegenClient({ baseUrl: 'http://localhost:3000', apiKey: process.env.IMAGEGEN_API_KEY });
 *   const { data, error, response } = await api.POST('/api/v1/generate', { body: { model: 'flux-schnell', prompt: 'a lighthouse' } });
 *
 * The web console (web/src/api.ts) uses it; so can any Node 18+ or browser program.
 */
import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };

/** The document's named schemas: `Schemas['Job']`, `Schemas['ApiKey']`, … */
export type Schemas = components['schemas'];

/** The API's error body, `{ error: { code, message, details? } }`. */
export type ErrorBody = Schemas['Error'];

export type ImagegenClient = Client<paths>;

export interface ImagegenClientOptions {
  /** Where the API is, without /api/v1 (the document's paths are full paths): `https://api.example.com`, or '' in a page the API serves. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` unless a request sets its own Authorization; a function is asked on every request. */
  apiKey?: string | null | (() => string | null | undefined);
  /** Another fetch (tests, proxies); the global one by default. */
  fetch?: ClientOptions['fetch'];
  /** Headers sent with every request. */
  headers?: ClientOptions['headers'];
}

export function createImagegenClient(options: ImagegenClientOptions): ImagegenClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch, headers: options.headers });
  const { apiKey } = options;
  if (apiKey !== undefined && apiKey !== null) client.use(bearerKey(apiKey));
  return client;
}

function bearerKey(apiKey: string | (() => string | null | undefined)): Middleware {
  return {
    onRequest({ request }) {
      const key = typeof apiKey === 'function' ? apiKey() : apiKey;
      if (key && !request.headers.has('Authorization')) request.headers.set('Authorization', `Bearer ${key}`);
      return request;
    },
  };
}
