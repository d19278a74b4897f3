import { z } from 'zod';
import { devHooks } from '../dev-hooks';

/**
 * An input contract: the model input fields a user may set, each with its type and bounds,
 * written like the JSON Schema of the model's own input (Replicate's
 * `openapi_schema.components.schemas.Input`), so it can be checked against it
 * (./contract-check.ts) and shown as it is (GET /api/v1/models). Anything not in the contract
 * never reaches the provider: a user cannot switch off the safety checker, ask for 500
 * denoising steps at the price of 25, or send an image size the provider rejects only after
 * credits were reserved.
 */
export const fieldSpec = z
  .strictObject({
    type: z.enum(['string', 'integer', 'number', 'boolean']),
    description: z.string(),
    /** Strings only: the allowed values. */
    enum: z.array(z.string()).min(1).optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    multipleOf: z.number().positive().optional(),
    maxLength: z.int().positive().optional(),
    /** Sent when the user leaves the field out, so the price and the provider see the same value. */
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    /** Offered only outside production: an extra of the local provider, not of the real model. */
    dev_only: z.boolean().optional(),
  })
  .meta({ id: 'InputField', description: "One input field users may set, as in the model's own input schema (JSON Schema keywords)" });
export type FieldSpec = z.infer<typeof fieldSpec>;

/** Field name → spec; parses a catalog row's `input_contract` column. */
export const inputContract = z.record(z.string(), fieldSpec);
export type InputContract = z.infer<typeof inputContract>;

/** What a model takes from users, and what the service always sends in its place. */
export interface ModelContract {
  input: InputContract;
  /** Field → value the service sets on every run; a user setting one gets 422. */
  protectedInput: Record<string, unknown>;
}

export interface ContractIssue {
  field: string;
  message: string;
}

/** Longest string a contract field takes when it names no maxLength. */
const DEFAULT_MAX_LENGTH = 2000;

/** Built once per field spec: a request checks its parameters against schemas built before (README, B3). */
const schemaOf = new WeakMap<FieldSpec, z.ZodType>();

/** The zod schema of one field's values. */
export function fieldSchema(spec: FieldSpec): z.ZodType {
  let schema = schemaOf.get(spec);
  if (!schema) {
    schema = buildFieldSchema(spec);
    schemaOf.set(spec, schema);
  }
  return schema;
}

function buildFieldSchema(spec: FieldSpec): z.ZodType {
  switch (spec.type) {
    case 'boolean':
      return z.boolean();
    case 'string':
      return spec.enum ? z.enum(spec.enum as [string, ...string[]]) : z.string().max(spec.maxLength ?? DEFAULT_MAX_LENGTH);
    case 'integer':
    case 'number':
      return numberSchema(spec);
  }
}

/** The zod schema of an integer or number field, bounds included. */
export function numberSchema(spec: FieldSpec): z.ZodNumber {
  let n = spec.type === 'integer' ? z.number().int() : z.number();
  if (spec.minimum !== undefined) n = n.min(spec.minimum);
  if (spec.maximum !== undefined) n = n.max(spec.maximum);
  if (spec.multipleOf !== undefined) n = n.multipleOf(spec.multipleOf);
  return n;
}

const NO_FIELDS: InputContract = Object.freeze({});

/** offeredFields' answers per contract, by devKnobs and the dev hooks' fields they were built with: the same contract object is asked on every request. */
const offeredOf = new WeakMap<InputContract, Record<string, { extra: InputContract; offered: InputContract }>>();

/**
 * The fields offered where the service runs, by name (Postgres keeps JSONB keys in its own
 * order): dev-only ones, and the input fields a development launcher installed
 * (src/dev-hooks.ts: the local provider's knobs), only outside production.
 */
export function offeredFields(contract: InputContract, devKnobs: boolean): InputContract {
  const extra = devKnobs ? devHooks().inputFields : NO_FIELDS;
  const cached = offeredOf.get(contract)?.[String(devKnobs)];
  if (cached?.extra === extra) return cached.offered;
  const fields = Object.entries(contract)
    .filter(([, spec]) => devKnobs || !spec.dev_only)
    .sort(([a], [b]) => a.localeCompare(b));
  const offered = { ...Object.fromEntries(fields), ...extra };
  offeredOf.set(contract, { ...offeredOf.get(contract), [String(devKnobs)]: { extra, offered } });
  return offered;
}

/**
 * Checks a user's `parameters` against a model's contract and returns the exact model input
 * they make: the user's fields, the contract's defaults for fields left out, then the
 * protected fields. Every problem at once, one issue per field (`parameters.<name>`):
 * a protected field, a field the contract does not offer, a value of the wrong type or
 * outside its range or enum.
 */
export function checkParameters(
  contract: ModelContract,
  params: Record<string, unknown>,
  opts: { devKnobs: boolean; skip?: readonly string[] },
): { input: Record<string, unknown>; issues: ContractIssue[] } {
  const offered = offeredFields(contract.input, opts.devKnobs);
  const names = Object.keys(offered);
  const issues: ContractIssue[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (opts.skip?.includes(name)) continue;
    const field = `parameters.${name}`;
    const spec = offered[name];
    if (name in contract.protectedInput) {
      issues.push({ field, message: `set by the service to ${JSON.stringify(contract.protectedInput[name])}; it cannot be changed` });
    } else if (!spec) {
      issues.push({ field, message: names.length ? `not a parameter of this model; it takes ${names.join(', ')}` : 'not a parameter of this model; it takes none' });
    } else {
      const result = fieldSchema(spec).safeParse(value);
      if (!result.success) issues.push({ field, message: result.error.issues.map((i) => i.message).join('; ') });
    }
  }
  const defaults = Object.entries(offered).filter(([name, spec]) => spec.default !== undefined && !(name in params));
  const input = { ...Object.fromEntries(defaults.map(([name, spec]) => [name, spec.default])), ...params, ...contract.protectedInput };
  return { input, issues };
}
