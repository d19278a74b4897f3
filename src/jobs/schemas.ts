import { z } from 'zod';
import { modelParameters } from '../catalog/parameters';
import { webhookFields } from '../webhooks-out/request';
import { deadlineField } from '../shared/deadline';
import { retentionField } from './retention';

/** Request and response schemas of the generic job API. The routes validate with these. */

export const MODEL_PATTERN = /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*(:[a-f0-9]{64})?$/i;
/** Fields we set ourselves; `parameters` may not override them. */
const RESERVED_PARAMETERS = ['prompt', 'num_outputs', 'seed', 'output_format'];

/**
 * The generic shape; what a model takes (prompt, input file, several outputs, an image
 * format, its `parameters`) is checked against the catalog next (src/jobs/model-input.ts).
 */
export const generateBody = z.strictObject({
  model: z
    .string()
    .regex(MODEL_PATTERN, 'must be "owner/name" or "owner/name:<64-hex version id>"'),
  prompt: z.string().trim().min(1, 'must not be empty').max(4000, 'must be at most 4000 characters').optional(),
  num_outputs: z.number().int().min(1).max(4).default(1),
  seed: z.number().int().min(0).max(2_147_483_647).optional(),
  /** Image models only; they default to png. */
  output_format: z.enum(['png', 'jpg', 'webp']).optional(),
  /** An upload_id from POST /api/v1/uploads, for models that take a file. */
  input_file: z.uuid({ message: 'must be an upload_id (UUID) from POST /api/v1/uploads' }).optional(),
  parameters: modelParameters(
    RESERVED_PARAMETERS,
    "Model input fields, each one the model's input contract offers (GET /api/v1/models: `input.parameters`, with types, ranges and enums). Anything else, or a field the service sets (`input.fixed`), is 422 `validation_failed` naming it.",
  ),
  ...webhookFields,
  max_credits: z
    .number().int().min(0).max(1_000_000)
    .optional()
    .meta({ description: 'The most this job may cost: a higher price is 402 `max_credits_exceeded` with the quote in `details`, before anything is reserved' }),
  deadline: deadlineField,
  retention: retentionField,
});
export type GenerateBody = z.output<typeof generateBody>;

export const idempotencyKey = z
  .string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces').optional();

export const jobIdParam = z.object({ job_id: z.uuid({ message: 'must be a job id (UUID)' }) });

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled', 'aborted'] as const;

export const listJobsQuery = z.strictObject({
  status: z.enum(JOB_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

export const downloadQuery = z.strictObject({
  index: z.coerce.number().int().min(0).max(99).default(0),
});
