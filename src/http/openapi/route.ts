import type { ResponseConfig, RouteConfig, ZodContentObject } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ErrorCode } from '../../error-codes';
import { ErrorBody } from './responses';

/**
 * One API operation as the docs describe it. `toRouteConfig` turns it into a zod-to-openapi
 * registration and adds what every route of this API shares: the bearer API key, the error
 * body, 401, 422 validation_failed, 429 (rate limits), 500, the JSON body parser's 400/413/415, 400
 * invalid_path on templated paths and 400 invalid_cursor on lists with a cursor.
 */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI template, full path: `/api/v1/status/{job_id}`. */
  path: string;
  operationId: string;
  tag: Tag;
  summary: string;
  description?: string;
  /** Reachable without an API key (mounted before requireApiKey in app.ts). */
  public?: true;
  request?: {
    /** The schemas the route validates with (`parse(schema, req.params, 'path')` and so on). */
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    /** An application/json body. */
    json?: z.ZodType;
    /** A multipart/form-data body; file fields are `binaryFile` (or arrays of it). */
    multipart?: z.ZodType;
  };
  /** Successful (and other non-error) answers. */
  responses: { [status: number]: Reply };
  /** The error codes each status can carry, beyond the shared ones added by toRouteConfig. */
  errors?: { [S in ErrorStatus]?: ErrorCode[] };
}

export interface Reply {
  description: string;
  /** An application/json body. */
  json?: z.ZodType;
  /** Other media types (downloads). */
  content?: ZodContentObject;
  /** The Location header: what it points at. */
  location?: string;
  /** Other response headers: name → description. */
  headers?: Record<string, string>;
}

export const TAGS = {
  Accounts: 'Sign up and get an API key.',
  Jobs: 'Generation jobs on the catalog models, paid in credits, with their input uploads.',
  Credits: 'Credit packs, your balance and what each job cost.',
  Payments: 'Plans for training your own model, paid with Stripe Checkout.',
  Models: 'Train your own model from your photos.',
  Prompts: 'Generate images with a trained model.',
  Webhooks: 'Called by Stripe and Replicate, authenticated by their signatures.',
  Notifications: 'Live progress as Server-Sent Events, and the webhooks we send you about your jobs, prompts and trainings.',
  Health: 'Liveness and readiness probes.',
} as const;
export type Tag = keyof typeof TAGS;

export type ErrorStatus = 400 | 401 | 402 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503;

/** The name of the bearer API-key security scheme. */
export const API_KEY_SCHEME = 'apiKey';

/** A file part of a multipart body. */
export const binaryFile = z.string().meta({ format: 'binary' });

const STATUS_TEXT: Record<ErrorStatus, string> = {
  400: 'Bad request',
  401: 'Missing or invalid API key',
  402: 'Not enough left to pay for it (model images or credits)',
  404: 'Not found (or not yours)',
  409: 'Conflict with the current state',
  413: 'Payload too large',
  415: 'Unsupported media type or encoding',
  422: 'Invalid request',
  429: 'Rate limit exceeded (per API key, or per client address without one); retry after Retry-After seconds',
  500: 'Internal error',
  502: 'Upstream provider refused the request',
  503: 'Temporarily unavailable; nothing was started, retry later',
};

export function toRouteConfig(route: ApiRoute): RouteConfig {
  const { request = {} } = route;
  const validated = Boolean(request.params ?? request.query ?? request.headers ?? request.json ?? request.multipart);
  const errors = mergeErrors(
    route.public ? {} : { 401: [ErrorCode.unauthorized] },
    validated ? { 422: [ErrorCode.validationFailed] } : {},
    // express.json() reads the body of every POST, PUT and PATCH that is not multipart, whether the
    // operation takes one or not (src/http/app.ts): malformed JSON, over the limit, unsupported charset/encoding.
    request.json || ['post', 'put', 'patch'].includes(route.method)
      ? { 400: [ErrorCode.invalidJson], 413: [ErrorCode.payloadTooLarge], 415: [ErrorCode.unsupportedMediaType] }
      : {},
    // The router's percent-decoding of path parameters (src/http/errors.ts).
    /\{\w+\}/.test(route.path) ? { 400: [ErrorCode.invalidPath] } : {},
    // src/shared/pagination.ts decodeCursor().
    request.query?.shape.cursor ? { 400: [ErrorCode.invalidCursor] } : {},
    route.errors ?? {},
    // src/http/hardening.ts rateLimits(): everything under /api/v1 but the webhooks.
    isRateLimited(route.path) ? { 429: [ErrorCode.rateLimited] } : {},
    { 500: [ErrorCode.internal] },
  );

  const body = request.json
    ? { 'application/json': { schema: request.json } }
    : request.multipart
      ? { 'multipart/form-data': { schema: request.multipart } }
      : undefined;

  return {
    method: route.method,
    path: route.path,
    operationId: route.operationId,
    tags: [route.tag],
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    security: route.public ? [] : [{ [API_KEY_SCHEME]: [] }],
    request: {
      params: request.params,
      query: request.query,
      headers: request.headers,
      ...(body ? { body: { required: true, content: body } } : {}),
    },
    responses: {
      ...Object.fromEntries(Object.entries(route.responses).map(([status, reply]) => [status, toResponse(reply)])),
      ...Object.fromEntries(Object.entries(errors).map(([status, codes]) => [status, errorResponse(Number(status) as ErrorStatus, codes)])),
    },
  };
}

function toResponse(reply: Reply): ResponseConfig {
  const headers = {
    ...(reply.location ? { Location: reply.location } : {}),
    ...reply.headers,
  };
  const content = reply.json ? { 'application/json': { schema: reply.json } } : reply.content;
  return {
    description: reply.description,
    ...(Object.keys(headers).length
      ? { headers: Object.fromEntries(Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: 'string' as const } }])) }
      : {}),
    ...(content ? { content } : {}),
  };
}

const isRateLimited = (path: string) => path.startsWith('/api/v1/') && !path.startsWith('/api/v1/webhooks/');

function errorResponse(status: ErrorStatus, codes: ErrorCode[]): ResponseConfig {
  return {
    description: `${STATUS_TEXT[status]}. \`error.code\`: ${codes.map((c) => `\`${c}\``).join(', ')}`,
    ...(status === 429 ? { headers: { 'Retry-After': { description: 'Seconds until the limit resets', schema: { type: 'integer' as const } } } } : {}),
    content: { 'application/json': { schema: ErrorBody } },
  };
}

type ErrorMap = { [S in ErrorStatus]?: ErrorCode[] };

function mergeErrors(...maps: ErrorMap[]): ErrorMap {
  const merged: ErrorMap = {};
  for (const map of maps) {
    for (const [status, codes] of Object.entries(map) as Array<[`${ErrorStatus}`, ErrorCode[]]>) {
      const key = Number(status) as ErrorStatus;
      merged[key] = [...new Set([...(merged[key] ?? []), ...codes])];
    }
  }
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => Number(a) - Number(b))) as ErrorMap;
}
