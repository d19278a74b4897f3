import { z } from 'zod';

export const MAX_PARAMETERS_BYTES = 16 * 1024;

/**
 * `parameters`: passed through to the model's input. Fields the API sets itself must be
 * sent as top-level fields, and the whole object stays small.
 */
export function passthroughParameters(reserved: readonly string[]) {
  return z
    .record(z.string(), z.unknown())
    .default({})
    .superRefine((params, ctx) => {
      const clash = Object.keys(params).filter((k) => reserved.includes(k));
      if (clash.length) ctx.addIssue({ code: 'custom', message: `set ${clash.join(', ')} as top-level fields, not in parameters` });
      if (JSON.stringify(params).length > MAX_PARAMETERS_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_PARAMETERS_BYTES} bytes of JSON` });
    });
}
