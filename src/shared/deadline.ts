import { z } from 'zod';
import { AppError } from '../errors';

/**
 * Deadlines of the create calls (jobs and prompts): a Cancel-After header (src/http/preferences.ts
 * turns it into a time) or a `deadline` field, not both, in the future and at most
 * MAX_DEADLINE_MS away. Work not final by then is canceled; work that never started ends `aborted`.
 */

/** The longest deadline work may have. */
export const MAX_DEADLINE_MS = 24 * 3600 * 1000;

export const deadlineField = z.iso
  .datetime({ offset: true, message: 'must be an RFC 3339 time, e.g. 2026-12-07T18:00:00Z' })
  .optional()
  .meta({
    description:
      'When the work must be final (at most 24 h ahead; or the Cancel-After header, not both): still running then, it is canceled; never started, it ends `aborted`; what it reserved is released',
  });

/** The deadline a request sets, or null; 422 for both ways at once, a past time or one too far ahead. */
export function resolveDeadline(field: string | undefined, fromHeader: Date | undefined): Date | null {
  if (field !== undefined && fromHeader !== undefined) {
    throw AppError.validation('Send either a Cancel-After header or a deadline field, not both', {
      issues: [{ field: 'deadline', message: 'not both Cancel-After and deadline' }],
    });
  }
  const at = fromHeader ?? (field === undefined ? null : new Date(field));
  if (at === null) return null;
  const left = at.getTime() - Date.now();
  if (left <= 0 || left > MAX_DEADLINE_MS) {
    throw AppError.validation('The deadline must be in the future and at most 24 hours away', {
      issues: [{ field: 'deadline', message: 'must be in the future and at most 24 hours away' }],
    });
  }
  return at;
}
