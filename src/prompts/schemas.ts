import { z } from 'zod';
import { passthroughParameters } from '../http/parameters';

const RESERVED = ['prompt', 'negative_prompt', 'num_outputs', 'seed', 'width', 'height'];
const dimension = z.number().int().min(256).max(2048).multipleOf(8);

export const createPromptBody = z.strictObject({
  prompt: z.string().trim().min(1, 'must not be empty').max(2000, 'must be at most 2000 characters'),
  negative_prompt: z.string().trim().max(2000).optional(),
  num_outputs: z.number().int().min(1).max(4).default(1),
  seed: z.number().int().min(0).max(2_147_483_647).optional(),
  width: dimension.optional(),
  height: dimension.optional(),
  parameters: passthroughParameters(RESERVED),
});
export type CreatePromptBody = z.output<typeof createPromptBody>;

export const promptIdParam = z.object({ prompt_id: z.uuid({ message: 'must be a prompt id (UUID)' }) });
export const listPromptsQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
});

/** The exact input the trained model receives. */
export function promptInput(body: CreatePromptBody): Record<string, unknown> {
  const optional = { negative_prompt: body.negative_prompt, seed: body.seed, width: body.width, height: body.height };
  return {
    ...body.parameters,
    prompt: body.prompt,
    num_outputs: body.num_outputs,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}
