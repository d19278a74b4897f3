import { z } from 'zod';
import { WEBHOOK_EVENTS } from './jobs';

/** Request bodies of the API (model inputs are validated per model kind, see input-schemas.ts). */

const input = z.record(z.string(), z.unknown());
const webhookFields = {
  webhook: z.url({ protocol: /^https?$/ }).optional(),
  webhook_events_filter: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
};

/** POST /v1/predictions; `version` is "<id>", "owner/name:<id>" or "owner/name". */
export const versionPredictionBody = z.object({ version: z.string().min(1), input, ...webhookFields });

/** POST /v1/models/{owner}/{name}/predictions */
export const modelPredictionBody = z.object({ input, ...webhookFields });

/** POST /v1/models/{owner}/{name}/versions/{id}/trainings */
export const trainingBody = z.object({
  destination: z.string().regex(/^[^/]+\/[^/]+$/, 'Must be "owner/name"'),
  input,
  ...webhookFields,
});

const slug = () => z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'Must be letters, digits, ".", "_" or "-"');

/** POST /v1/models */
export const createModelBody = z.object({
  owner: slug(),
  name: slug(),
  visibility: z.enum(['public', 'private']),
  hardware: z.string().min(1),
  description: z.string().optional(),
  github_url: z.url().optional(),
  paper_url: z.url().optional(),
  license_url: z.url().optional(),
  cover_image_url: z.url().optional(),
});
