import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ErrorCode, errorBody } from '../errors';
import { unavailableComponent, type OutageComponent } from '../outages';

/** Seconds a client is asked to wait while a dependency is down: about what a restart takes. */
const OUTAGE_RETRY_AFTER_SECONDS = 5;
/** Seconds to wait when the database is only busy (no pool connection free in time). */
const BUSY_RETRY_AFTER_SECONDS = 1;

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody(ErrorCode.notFound, `No route for ${req.method} ${req.path}`));
};

/**
 * The one final error responder: AppErrors keep their code; an unreachable Postgres, Temporal
 * or S3 is a 503 with Retry-After (never a 500 or a hang); anything else is a 500 without internals.
 */
export const errorHandler: ErrorRequestHandler = (err, req, res, next) => {
  // The answer already started (a stream, a download): no error body can follow. Express's own
  // handler ends the response and destroys the socket, so the client sees a truncated answer.
  if (res.headersSent) {
    req.log?.error({ err }, 'request failed after its answer started');
    next(err);
    return;
  }
  const appError = toAppError(err);
  if (appError.code === ErrorCode.serviceUnavailable) req.log?.warn({ err }, 'dependency unavailable');
  else if (appError.status >= 500) req.log?.error({ err }, 'request failed');
  const retryAfter = appError.status === 503 ? { 'Retry-After': String(OUTAGE_RETRY_AFTER_SECONDS) } : {};
  const headers = { ...retryAfter, ...appError.headers };
  if (Object.keys(headers).length > 0) res.set(headers);
  res.status(appError.status).json(errorBody(appError.code, appError.message, appError.details));
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; message?: string; code?: string; errno?: unknown };
  // body-parser's own errors
  if (e.type === 'entity.parse.failed') return new AppError(400, ErrorCode.invalidJson, 'The request body is not valid JSON');
  // A body whose Content-Encoding does not decode (zlib's and brotli's errors carry an errno), or shorter than its Content-Length.
  if (e.status === 400 && (typeof e.errno === 'number' || e.type === 'request.size.invalid' || e.type === 'request.aborted')) {
    return new AppError(400, ErrorCode.invalidJson, 'The request body could not be read: it does not match its Content-Encoding or Content-Length');
  }
  if (e.type === 'entity.too.large') return new AppError(413, ErrorCode.payloadTooLarge, 'The request body is too large');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new AppError(415, ErrorCode.unsupportedMediaType, e.message ?? 'Unsupported encoding');
  // The router could not percent-decode a path parameter (`/status/%ED%A0%80`): the URL is malformed.
  if (err instanceof URIError && e.status === 400) return new AppError(400, ErrorCode.invalidPath, 'The URL path is not validly percent-encoded UTF-8');
  const component = unavailableComponent(err);
  if (component) return outage(component, e.code);
  return new AppError(500, ErrorCode.internal, 'Something went wrong on our side; the error was logged');
}

const WHAT: Record<OutageComponent, string> = {
  postgres: 'The database',
  temporal: 'The workflow service',
  s3: 'File storage',
};

/** 503 service_unavailable naming the component; the error itself (with addresses) stays in the log. */
function outage(component: OutageComponent, code: string | undefined): AppError {
  // Prisma could not get a pool connection (for a transaction) in time: overload, and nothing was done.
  if (code === 'P2028' || code === 'P2024') {
    return new AppError(503, ErrorCode.serviceUnavailable, 'The service is busy; nothing was done. Try again shortly.', { component }, {
      'Retry-After': String(BUSY_RETRY_AFTER_SECONDS),
    });
  }
  return AppError.unavailable(`${WHAT[component]} cannot be reached right now. Try again in a few seconds.`, { component });
}
