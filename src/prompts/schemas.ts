import { z } from 'zod';
import { numberSchema, type FieldSpec, type ModelContract } from '../catalog/contract';
import { modelParameters } from '../catalog/parameters';
import { webhookFields } from '../webhooks-out/request';
import { deadlineField } from '../shared/deadline';

const RESERVED = ['prompt', 'negative_prompt', 'num_outputs', 'seed', 'width', 'height'];

/**
 * What a trained model takes. The trainer (ostris/flux-dev-lora-trainer, `TRAINER_MODEL`)
 * makes FLUX LoRA versions, so every trained model shares one contract, kept here rather
 * than in the catalog table (trained models are not catalog rows). It is a subset of the
 * trained version's input schema: checked against the provider's like the catalog's
 * (src/catalog/check-contracts.ts, test/api/input-contract.test.ts).
 */
export const TRAINED_MODEL_CONTRACT: ModelContract = {
  input: {
    aspect_ratio: {
      type: 'string',
      description: 'Aspect ratio of the images',
      enum: ['1:1', '16:9', '21:9', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '9:16', '9:21'],
    },
  },
  protectedInput: { disable_safety_checker: false },
};

/** The top-level `width` and `height` of a prompt: the trained model's own bounds. */
export const TRAINED_MODEL_SIZE: FieldSpec = { type: 'integer', description: 'Image size in pixels', minimum: 256, maximum: 1440, multipleOf: 8 };
const dimension = numberSchema(TRAINED_MODEL_SIZE);

const PARAMETERS_DESCRIPTION = `Model input fields: ${Object.entries(TRAINED_MODEL_CONTRACT.input)
  .map(([name, spec]) => `\`${name}\` (${spec.enum ? spec.enum.join(', ') : spec.type})`)
  .join(', ')}. Anything else, or a field the service sets (${Object.keys(TRAINED_MODEL_CONTRACT.protectedInput)
  .map((name) => `\`${name}\``)
  .join(', ')}), is 422 \`validation_failed\` naming it.`;

export const createPromptBody = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
  negative_prompt: z.string().trim().max(2000).optional(),
  num_outputs: z.number().int().min(1).max(4).default(1),
  seed: z.number().int().min(0).max(2_147_483_647).optional(),
  width: dimension.optional(),
  height: dimension.optional(),
  parameters: modelParameters(RESERVED, PARAMETERS_DESCRIPTION),
  ...webhookFields,
  deadline: deadlineField,
});
export type CreatePromptBody = z.output<typeof createPromptBody>;

export const promptIdParam = z.object({ prompt_id: z.uuid({ message: 'must be a prompt id (UUID)' }) });
export const listPromptsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The exact input the trained model receives: the validated parameters (protected fields included), then the prompt's own fields. */
export function promptInput(body: CreatePromptBody, parameters: Record<string, unknown>): Record<string, unknown> {
  const optional = { negative_prompt: body.negative_prompt, seed: body.seed, width: body.width, height: body.height };
  return {
    ...parameters,
    prompt: body.prompt,
    num_outputs: body.num_outputs,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}
