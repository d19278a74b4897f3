import { z } from 'zod';
import { ProblemError } from './problem';

/** One entry of Replicate's `invalid_fields` list. */
interface InvalidField {
  type: string;
  field: string;
  description: string;
}

/**
 * Parses `value` with `schema` or throws a 422 shaped like Replicate's validation errors:
 * `{ title: "Input validation failed", detail: "- input.num_outputs: Must be less than or equal to 4\n", invalid_fields }`.
 * `root` names the validated object ("input" for model inputs, "" for the request body).
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const fields = result.error.issues.map((issue) => describeIssue(issue, root));
  const detail = fields.map((f) => `- ${f.field}: ${f.description}\n`).join('');
  throw new ProblemError(422, 'Input validation failed', detail, { invalid_fields: fields });
}

function describeIssue(issue: z.core.$ZodIssue, root: string): InvalidField {
  const key = issue.path.map(String).join('.');
  const field = [root, key].filter(Boolean).join('.');
  const name = key || root;
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? { type: 'required', field: parentOf(field, root), description: `${name} is required` }
        : { type: 'invalid_type', field, description: `Invalid type. Expected: ${issue.expected}, given: ${typeName(issue.input)}` };
    case 'too_big':
      return { type: 'less_than_equal', field, description: `Must be less than or equal to ${issue.maximum}` };
    case 'too_small':
      return { type: 'greater_than_equal', field, description: `Must be greater than or equal to ${issue.minimum}` };
    case 'invalid_value':
      return { type: 'enum', field, description: `${name} must be one of the following: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}` };
    case 'invalid_format':
      return { type: 'format', field, description: `Does not match format '${issue.format === 'url' ? 'uri' : issue.format}'` };
    default:
      return { type: issue.code, field, description: issue.message };
  }
}

/** Replicate reports a missing property on its parent object ("input: prompt is required"). */
function parentOf(field: string, root: string): string {
  const parent = field.split('.').slice(0, -1).join('.');
  return parent || root || field;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return Number.isInteger(value) ? 'integer' : typeof value;
}
