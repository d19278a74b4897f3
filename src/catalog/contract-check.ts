import { fieldSchema, type FieldSpec, type ModelContract } from './contract';

/** A JSON Schema node as model versions publish them (Cog's OpenAPI: enums behind allOf/$ref). */
type SchemaNode = {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  maxLength?: number;
  $ref?: string;
  allOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  properties?: Record<string, SchemaNode>;
};

/** A model version's `openapi_schema`, as far as the check reads it. */
export interface OpenApiSchema {
  components?: { schemas?: Record<string, SchemaNode> };
}

export interface ContractReport {
  /** Contract fields the provider would not accept as offered: the contract must change. */
  problems: string[];
  /** Protected fields the provider's schema lacks: sent anyway, ignored by that provider. */
  notes: string[];
}

/**
 * Checks a contract against the provider's published input schema: every field offered
 * exists there, with a compatible type, and the contract's range and enum lie within the
 * provider's (a provider bound the contract leaves open is a problem: users could exceed it).
 * Protected values must be valid provider values where the provider has the field.
 * `devOnly`: also check the local provider's extras (true against the local provider).
 */
export function checkContract(contract: ModelContract, schema: OpenApiSchema, opts: { devOnly: boolean }): ContractReport {
  const components = schema.components?.schemas ?? {};
  const properties = components.Input?.properties ?? {};
  const problems: string[] = [];
  const notes: string[] = [];
  for (const [name, spec] of Object.entries(contract.input).sort(([a], [b]) => a.localeCompare(b))) {
    if (spec.dev_only && !opts.devOnly) continue;
    const property = properties[name];
    if (!property) problems.push(`${name}: not in the provider's input schema`);
    else problems.push(...fieldProblems(name, spec, resolve(property, components)));
    if (spec.default !== undefined && !fieldSchema(spec).safeParse(spec.default).success) problems.push(`${name}: default ${JSON.stringify(spec.default)} is outside the contract`);
  }
  for (const [name, value] of Object.entries(contract.protectedInput)) {
    const property = properties[name];
    if (!property) notes.push(`${name}: protected but not in the provider's input schema (sent anyway; the provider ignores it)`);
    else problems.push(...valueProblems(name, value, resolve(property, components)));
  }
  return { problems, notes };
}

/** Follows `$ref`, `allOf` and a nullable `anyOf` to one flat node (Cog puts enums behind allOf/$ref). */
function resolve(node: SchemaNode, components: Record<string, SchemaNode>): SchemaNode {
  const { $ref, allOf, anyOf, ...own } = node;
  let merged: SchemaNode = own;
  if ($ref) merged = { ...resolve(components[$ref.split('/').pop() ?? ''] ?? {}, components), ...merged };
  for (const part of allOf ?? []) merged = { ...resolve(part, components), ...merged };
  const nonNull = anyOf?.filter((n) => n.type !== 'null');
  if (nonNull?.length === 1) merged = { ...resolve(nonNull[0]!, components), ...merged };
  return merged;
}

function fieldProblems(name: string, spec: FieldSpec, provider: SchemaNode): string[] {
  const problems: string[] = [];
  const compatible = provider.type === spec.type || (spec.type === 'integer' && provider.type === 'number');
  if (!compatible) return [`${name}: the contract says ${spec.type}, the provider ${provider.type ?? 'no type'}`];
  if (provider.enum) {
    if (!spec.enum) problems.push(`${name}: the provider takes only ${provider.enum.map((v) => JSON.stringify(v)).join(', ')}; the contract needs an enum`);
    else for (const value of spec.enum) if (!provider.enum.includes(value)) problems.push(`${name}: ${JSON.stringify(value)} is not a provider value`);
  }
  const low = provider.minimum ?? provider.exclusiveMinimum;
  const high = provider.maximum ?? provider.exclusiveMaximum;
  if (low !== undefined && (spec.minimum === undefined || spec.minimum < low || (provider.exclusiveMinimum !== undefined && spec.minimum === low))) {
    problems.push(`${name}: the provider's minimum is ${low}; the contract allows ${spec.minimum ?? 'any'}`);
  }
  if (high !== undefined && (spec.maximum === undefined || spec.maximum > high || (provider.exclusiveMaximum !== undefined && spec.maximum === high))) {
    problems.push(`${name}: the provider's maximum is ${high}; the contract allows ${spec.maximum ?? 'any'}`);
  }
  if (provider.maxLength !== undefined && (spec.maxLength === undefined || spec.maxLength > provider.maxLength)) {
    problems.push(`${name}: the provider takes at most ${provider.maxLength} characters; the contract allows ${spec.maxLength ?? 'more'}`);
  }
  return problems;
}

function valueProblems(name: string, value: unknown, provider: SchemaNode): string[] {
  const type = typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value;
  const typeOk = provider.type === undefined || provider.type === type || (provider.type === 'number' && type === 'integer');
  if (!typeOk) return [`${name}: protected value ${JSON.stringify(value)} is not a provider ${provider.type}`];
  if (provider.enum && !provider.enum.includes(value)) return [`${name}: protected value ${JSON.stringify(value)} is not a provider value`];
  if (typeof value === 'number' && ((provider.minimum ?? -Infinity) > value || (provider.maximum ?? Infinity) < value)) {
    return [`${name}: protected value ${value} is outside the provider's range`];
  }
  return [];
}
