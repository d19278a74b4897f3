import { z } from 'zod';

export const MAX_PARAMETERS_BYTES = 16 * 1024;

/**
 * `parameters`: the model input fields the caller sets, checked field by field against the
 * model's input contract once the model is known (src/catalog/contract.ts). Here only the
 * generic shape: fields the API takes at the top level must be sent there, and the whole
 * object stays small.
 */
export function modelParameters(reserved: readonly string[], description: string) {
  return z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((params, ctx) => {
      const clash = Object.keys(params).filter((k) => reserved.includes(k));
      if (clash.length) ctx.addIssue({ code: 'custom', message: `set ${clash.join(', ')} as top-level fields, not in parameters` });
      if (JSON.stringify(params).length > MAX_PARAMETERS_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PARAMETERS_BYTES} bytes of JSON` });
    })
    .meta({ description });
}
