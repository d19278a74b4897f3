import { ErrorCode } from './error-codes';

export { ErrorCode };

/** The one error type of the HTTP layer: a stable code, an HTTP status and a message a person can act on. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  /** Keeps the error that led here for the log only: the client sees the code, message and details. */
  withCause(cause: unknown): this {
    Object.defineProperty(this, 'cause', { value: cause, enumerable: false, configurable: true, writable: true });
    return this;
  }

  static notFound(what: string): AppError {
    return new AppError(404, ErrorCode.notFound, `${what} not found`);
  }

  static validation(message: string, details?: unknown): AppError {
    return new AppError(422, ErrorCode.validationFailed, message, details);
  }

  static unauthorized(message = 'Send a valid API key as "Authorization: Bearer <api_key>"'): AppError {
    return new AppError(401, ErrorCode.unauthorized, message);
  }

  static conflict(code: ErrorCode, message: string, details?: unknown): AppError {
    return new AppError(409, code, message, details);
  }

  static unavailable(message: string, details?: unknown): AppError {
    return new AppError(503, ErrorCode.serviceUnavailable, message, details);
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}
