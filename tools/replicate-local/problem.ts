/** An API error rendered as Replicate's problem-JSON body `{ title, detail, status, ... }`. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
  }

  toJSON(): Record<string, unknown> {
    return { title: this.title, detail: this.detail, status: this.status, ...this.extra };
  }
}

export function notFound(detail = 'The requested resource could not be found.'): ProblemError {
  return new ProblemError(404, 'Not found', detail);
}

export function badRequest(detail: string): ProblemError {
  return new ProblemError(400, 'Bad request', detail);
}

export function conflict(detail: string): ProblemError {
  return new ProblemError(409, 'Conflict', detail);
}

export function unprocessable(title: string, detail: string): ProblemError {
  return new ProblemError(422, title, detail);
}
