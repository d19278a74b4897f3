import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, ErrorCode, errorBody } from '../errors';

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody(ErrorCode.notFound, `No route for ${req.method} ${req.path}`));
};

/** The one final error responder: AppErrors keep their code; anything else is a 500 without internals. */
export const errorHandler: ErrorRequestHandler = (err, req, res, _next) => {
  const appError = toAppError(err);
  if (appError.status >= 500) req.log?.error({ err }, 'request failed');
  if (appError.headers) res.set(appError.headers);
  res.status(appError.status).json(errorBody(appError.code, appError.message, appError.details));
};

function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const e = err as { type?: string; status?: number; message?: string };
  // body-parser's own errors
  if (e.type === 'entity.parse.failed') return new AppError(400, ErrorCode.invalidJson, 'The request body is not valid JSON');
  if (e.type === 'entity.too.large') return new AppError(413, ErrorCode.payloadTooLarge, 'The request body is too large');
  if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return new AppError(415, ErrorCode.validationFailed, e.message ?? 'Unsupported encoding');
  // Prisma could not get a connection for a transaction in time: overload, not a bug. Nothing was done.
  if ((err as { code?: string }).code === 'P2028') {
    return new AppError(503, ErrorCode.serviceUnavailable, 'The service is busy; nothing was done. Try again shortly.', undefined, { 'Retry-After': '1' });
  }
  return new AppError(500, ErrorCode.internal, 'Something went wrong on our side; the error was logged');
}
