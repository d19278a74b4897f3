import { z } from 'zod';
import { AppError } from '../errors';

/**
 * The request headers of sync mode and deadlines on the create routes:
 *
 *   Prefer: wait | wait=N        hold the answer until the work is final, at most N s (1–60, default 60)
 *   Cancel-After: <duration>     the work must be final within it (`90s`, `5m`, `1h30m`, `500ms`, or plain seconds)
 *
 * Prefer is a list of preferences (RFC 7240); ones other than `wait` are ignored, as the RFC
 * asks. A `wait` that is not 1–60 seconds is 422, like any invalid field.
 */

/** The longest a create request is held (Prefer: wait without a value). */
export const MAX_WAIT_SECONDS = 60;

export const preferHeader = z
  .string()
  .max(500)
  .optional()
  .meta({
    description: `\`wait\` or \`wait=N\` (1 to ${MAX_WAIT_SECONDS} s, default ${MAX_WAIT_SECONDS}): hold the answer until the work is final (201 with it) or N s have passed (202 with it as it is now, and Location). Other preferences are ignored.`,
    example: 'wait=30',
  });

const DURATION = /^(?:\d{1,9}(?:\.\d{1,3})?(?:ms|s|m|h))+$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export const cancelAfterHeader = z
  .string()
  .max(64)
  .regex(/^(?:\d{1,9}|(?:\d{1,9}(?:\.\d{1,3})?(?:ms|s|m|h))+)$/, 'must be a duration such as 90s, 5m, 1h30m or a number of seconds')
  .optional()
  .meta({
    description: 'The work must be final within this duration (`90s`, `5m`, `1h30m`, `500ms`, or plain seconds; 1 s to 24 h). Not final by then: canceled and what it reserved (unused credits, images) released; never started: `aborted`, costing nothing. The `deadline` field says the same as a time.',
    example: '5m',
  });

/** The seconds to hold a request for, or null without a `wait` preference; 422 for a bad one. */
export function waitSeconds(prefer: string | undefined): number | null {
  if (prefer === undefined) return null;
  for (const item of prefer.split(',')) {
    const [token = '', ...rest] = item.split(';')[0]!.split('=');
    if (token.trim().toLowerCase() !== 'wait') continue;
    if (rest.length === 0) return MAX_WAIT_SECONDS;
    const raw = rest.join('=').trim().replace(/^"(.*)"$/, '$1');
    const seconds = /^\d{1,3}$/.test(raw) ? Number(raw) : NaN;
    if (!(seconds >= 1 && seconds <= MAX_WAIT_SECONDS)) {
      throw AppError.validation(`Invalid request header: Prefer: wait must be 1 to ${MAX_WAIT_SECONDS} seconds`, {
        issues: [{ field: 'Prefer', message: `wait must be 1 to ${MAX_WAIT_SECONDS} seconds` }],
      });
    }
    return seconds;
  }
  return null;
}

/** A Cancel-After duration (already checked against cancelAfterHeader) in ms. */
export function durationMs(text: string): number {
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!DURATION.test(text)) return NaN;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return total;
}

/** The deadline a Cancel-After header sets, from now; 422 unless 1 s to 24 h. */
export function cancelAfterDeadline(header: string | undefined, maxMs: number): Date | undefined {
  if (header === undefined) return undefined;
  const ms = durationMs(header);
  if (!(ms >= 1000 && ms <= maxMs)) {
    throw AppError.validation('Invalid request header: Cancel-After must be 1 s to 24 h', {
      issues: [{ field: 'Cancel-After', message: 'must be 1 s to 24 h' }],
    });
  }
  return new Date(Date.now() + ms);
}
