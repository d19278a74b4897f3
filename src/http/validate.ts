import type { z } from 'zod';
import { AppError } from '../errors';

/**
 * Parses request input with a zod schema. On failure: 422 `validation_failed` with one
 * entry per problem, each naming the field, so the caller can fix all of them at once.
 */
export function parse<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query' | 'path' | 'header' = 'body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : where,
    message: i.message,
  }));
  const summary = issues.map((i) => `${i.field}: ${i.message}`).join('; ');
  throw AppError.validation(`Invalid request ${where}: ${summary}`, { issues });
}
