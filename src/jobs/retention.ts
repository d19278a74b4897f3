import { z } from 'zod';
import { AppError } from '../errors';

/**
 * How long a job's outputs stay in our bucket: the request's `retention`, as seconds or an
 * ISO 8601 duration (`P7D`, `PT12H`, `P1DT30M`; days, hours, minutes and seconds, no months or
 * years, whose length varies), at least 1 s and at most OUTPUT_RETENTION_MAX_SECONDS; without
 * one, OUTPUT_RETENTION_DEFAULT_SECONDS. Each output's `expires_at` is its storing time plus
 * this; the expiry schedule (workflows/expire-outputs.ts) deletes it then.
 */
const ISO_DURATION = /^P(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,8})M)?(?:(\d{1,9})S)?)?$/;

export const retentionField = z
  .union([
    z.number().int().min(1).max(1_000_000_000),
    z
      .string()
      .max(40)
      .regex(ISO_DURATION, 'must be an ISO 8601 duration in days, hours, minutes and seconds (e.g. P7D, PT12H) or a number of seconds')
      .refine((v) => v !== 'P' && !v.endsWith('T') && durationSeconds(v) > 0, 'must be a duration of at least 1 second'),
  ])
  .optional()
  .meta({
    description:
      'How long the outputs are kept in our bucket once stored: seconds, or an ISO 8601 duration such as `P7D` or `PT12H`; at most the service\'s maximum (`OUTPUT_RETENTION_MAX_SECONDS`, 30 days by default). Each output shows its `expires_at`; expired outputs are deleted, their metadata stays.',
    example: 'P7D',
  });

/** Seconds of an ISO 8601 duration that matched ISO_DURATION. */
function durationSeconds(text: string): number {
  const [, d, h, m, s] = ISO_DURATION.exec(text) ?? [];
  return Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3_600 + Number(m ?? 0) * 60 + Number(s ?? 0);
}

/** The retention a job gets, in seconds; 422 above the maximum. */
export function retentionSeconds(value: number | string | undefined, limits: { retentionDefaultSeconds: number; retentionMaxSeconds: number }): number {
  if (value === undefined) return limits.retentionDefaultSeconds;
  const seconds = typeof value === 'number' ? value : durationSeconds(value);
  if (seconds > limits.retentionMaxSeconds) {
    throw AppError.validation(`retention is at most ${limits.retentionMaxSeconds} seconds here`, {
      issues: [{ field: 'retention', message: `must be at most ${limits.retentionMaxSeconds} seconds` }],
    });
  }
  return seconds;
}
