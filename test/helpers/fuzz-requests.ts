import http from 'node:http';
import fc from 'fast-check';

/**
 * Requests for every operation of an OpenAPI 3.0 document, as fast-check arbitraries: mostly junk
 * (made-up and revoked keys, malformed and oversized bodies, bad percent-encodings, crafted cursors,
 * prototype keys, huge and fractional numbers, unicode), some of it valid, and a share of
 * well-formed requests (the funded key, the account's own ids, bodies the document's schemas or
 * the service accepted), so that a property run against the service reaches both its refusals and
 * its answers to requests that succeed. Nothing in here knows a route: a new operation in
 * /openapi.json is fuzzed as it is documented; real ids come from the pools, by parameter name.
 */

export type Spec = Record<string, any>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  schema: Spec;
}

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  secured: boolean;
  parameters: Parameter[];
  body?: { mediaType: 'application/json' | 'multipart/form-data'; schema: Spec };
  responses: Record<string, Spec>;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

export function operationsOf(doc: Spec): Operation[] {
  const ops: Operation[] = [];
  for (const [template, item] of Object.entries<Spec>(doc.paths)) {
    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method];
      const content = op.requestBody?.content ?? {};
      const mediaType = (['application/json', 'multipart/form-data'] as const).find((t) => content[t]);
      ops.push({
        method: method.toUpperCase(),
        template,
        operationId: op.operationId,
        secured: (op.security ?? doc.security ?? []).length > 0,
        parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Spec): Parameter => ({ name: p.name, in: p.in, required: Boolean(p.required), schema: p.schema ?? {} })),
        body: mediaType ? { mediaType, schema: content[mediaType].schema } : undefined,
        responses: op.responses,
      });
    }
  }
  return ops;
}

/** What the fuzzer may use that the document cannot tell it: real keys and real ids. */
export interface Pools {
  /** A funded key, another account's key, and a revoked one. */
  keys: { funded: string; other: string; revoked: string };
  /** Ids of real resources (the funded account's and another account's): a path id is often one of them. */
  ids: string[];
  /** A few Idempotency-Keys, so that keys are reused with the same and with other bodies. */
  idempotencyKeys: string[];
  /** Bytes of a real (tiny) image, for multipart file parts. */
  image: Buffer;
  /** The JSON body limit in bytes: oversized bodies are just over it. */
  jsonBodyLimitBytes: number;
  /**
   * Strings the service itself answered (model names, plan and pack ids…): a string field often
   * gets one of them, so that valid requests get past lookups and reach what lies behind them.
   */
  knownStrings: string[];
  /** Bodies the service accepted, by operationId: sent as they are, or spoiled, next to generated ones. */
  acceptedBodies: Record<string, unknown[]>;
  /**
   * Values of the funded account's own resources by parameter name (`job_id`, `batch_id`,
   * `resource`, `index`…): a well-formed request's path and query parameters take them, so that it
   * names something that exists. `<operationId>.<name>` overrides the name for one operation.
   */
  ownValues: Record<string, string[]>;
  /**
   * Idempotency-Keys the service accepted before the run, with the operation and body: a
   * well-formed request reuses one with that body (a replay) or with another (refused as reused).
   */
  acceptedIdempotencyKeys: Array<{ operationId: string; key: string; body: unknown }>;
}

export interface FuzzRequest {
  operationId: string;
  /** Built by wellFormedRequestFor (every part valid) rather than from junk. */
  wellFormed?: boolean;
  method: string;
  /** The raw request target, percent-encoded as sent (it may be malformed on purpose). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Junk

const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const NASTY_STRINGS = [
  '', ' ', 'null', 'undefined', 'NaN', 'true', '-1', '0', '1e309', '0x10', '  42  ', '1.5', '-0',
  '../../etc/passwd', "' OR 1=1 --", '%00', '\u0000', '😀', 'ǅ', '\u202e', '\ufeff', '\ud800', 'a\u0301', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '<script>alert(1)</script>', '${jndi:ldap://x}', '{{7*7}}', 'job:', 'job:' + '-'.repeat(36), 'x'.repeat(5000), ...PROTOTYPE_KEYS,
];
const HUGE_NUMBERS = [-1, 0, -0, 0.5, 1.5, -2.75, 1e308, -1e308, 2 ** 31, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e-308, 4.9e-324];

export const junkString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
);

const junkNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(...HUGE_NUMBERS),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A JSON value of any shape, with prototype keys among the object keys. */
const junkJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    junkNumber,
    junkString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Bytes percent-encoded as %XX, so that any string (lone surrogates too) becomes a valid request target. */
export function percentEncode(value: string | Buffer): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_~-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Path segments that are not valid percent-encoded UTF-8: overlong forms, surrogates, truncated escapes, non-hex. */
const malformedEncoding: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('%ED%A0%80', '%zz', '%', '%E0%A4%A', '%C0%AF', '%FF', 'abc%', '%%', '%G1', '%ED%BF%BF', '%F4%90%80%80', '%C3'),
  // Random bytes are almost never valid UTF-8.
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bytes) => percentEncode(Buffer.from(bytes))),
  fc.tuple(fc.string({ unit: 'grapheme-ascii', maxLength: 5 }), fc.constantFrom('%', '%4', '%x1', '%E2%82')).map(([a, b]) => percentEncode(a) + b),
);

/** What `next_cursor` looks like (base64url of "<ISO time>|<id>"), with each part crafted. */
const craftedCursor: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(
      fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), junkString, fc.constantFrom('2024-02-31T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '0000-01-01T00:00:00.000Z')),
      fc.oneof(fc.uuid(), junkString, fc.constantFrom('not-a-uuid', '-'.repeat(36), "' OR 1=1 --", '')),
      fc.option(junkString, { nil: undefined }),
    )
    .map(([iso, id, extra]) => Buffer.from(`${iso}|${id}${extra === undefined ? '' : `|${extra}`}`).toString('base64url')),
  fc.base64String({ maxLength: 200 }),
  junkString,
);

// ---------------------------------------------------------------------------------------------
// Values from schemas

function deref(doc: Spec, schema: Spec | undefined): Spec {
  let s = schema ?? {};
  for (let i = 0; s.$ref && i < 10; i++) {
    s = s.$ref
      .slice(2)
      .split('/')
      .reduce((node: Spec, part: string) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return s ?? {};
}

/** A value the schema allows (roughly: patterns are honoured, formats are the common ones). */
export function valueOf(doc: Spec, schema: Spec | undefined, known: readonly string[] = [], depth = 0): fc.Arbitrary<unknown> {
  const s = deref(doc, schema);
  const nullable = (a: fc.Arbitrary<unknown>) => (s.nullable ? fc.oneof({ weight: 5, arbitrary: a }, { weight: 1, arbitrary: fc.constant(null) }) : a);
  if (s.enum) return nullable(fc.constantFrom(...(s.enum as unknown[])));
  const alternatives = s.oneOf ?? s.anyOf;
  if (alternatives) return nullable(fc.oneof(...alternatives.map((alt: Spec) => valueOf(doc, alt, known, depth + 1))));
  switch (s.type) {
    case 'string':
      return nullable(stringOf(s, known));
    case 'integer': {
      // OpenAPI 3.0: exclusiveMinimum/Maximum are booleans qualifying minimum/maximum.
      const min = s.minimum === undefined ? -1000 : s.minimum + (s.exclusiveMinimum === true ? 1 : 0);
      const max = s.maximum === undefined ? min + 1000 : s.maximum - (s.exclusiveMaximum === true ? 1 : 0);
      return nullable(fc.integer({ min: Math.max(min, -1e9), max: Math.min(max, 1e9) }));
    }
    case 'number':
      return nullable(
        fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, minExcluded: s.exclusiveMinimum === true, maxExcluded: s.exclusiveMaximum === true, noNaN: true, noDefaultInfinity: true }),
      );
    case 'boolean':
      return nullable(fc.boolean());
    case 'array':
      return nullable(fc.array(valueOf(doc, s.items, known, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.min(s.maxItems ?? 3, 3) }));
    case 'object':
    default: {
      if (!s.properties || depth > 4) return nullable(s.type === 'object' ? fc.dictionary(fc.string({ maxLength: 8 }), junkJson, { maxKeys: 3 }) : junkJson);
      const required: string[] = s.required ?? [];
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [name, prop] of Object.entries<Spec>(s.properties)) record[name] = valueOf(doc, prop, known, depth + 1);
      return nullable(fc.record(record, { requiredKeys: required.filter((k) => k in record) }).map((v) => v as unknown));
    }
  }
}

function stringOf(s: Spec, known: readonly string[]): fc.Arbitrary<string> {
  const generated = generatedString(s);
  const fits = known.filter((v) => v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity) && (!s.pattern || safeTest(s.pattern, v)));
  return fits.length && !s.format ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...fits) }, { weight: 3, arbitrary: generated }) : generated;
}

function safeTest(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return false;
  }
}

function generatedString(s: Spec): fc.Arbitrary<string> {
  const min = s.minLength ?? 0;
  const max = Math.min(s.maxLength ?? 40, 60);
  if (s.format === 'uuid') return fc.uuid();
  if (s.format === 'email') return fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.]{0,15}$/).map((local) => `${local}@example.com`), fc.emailAddress());
  if (s.format === 'date-time') return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString());
  if (s.format === 'uri' || s.format === 'url') return fc.webUrl();
  if (s.pattern) {
    try {
      const re = new RegExp(s.pattern);
      return fc.stringMatching(re).filter((v) => v.length >= min && v.length <= (s.maxLength ?? Infinity));
    } catch {
      // an unsupported pattern: any string of the right length
    }
  }
  return fc.string({ minLength: min, maxLength: Math.max(min, max) });
}

/** The schema of an object (or of each alternative) with its required properties only. */
function requiredOnly(doc: Spec, schema: Spec | undefined): Spec {
  const s = deref(doc, schema);
  const alternatives = s.oneOf ?? s.anyOf;
  if (alternatives) return { ...s, oneOf: undefined, anyOf: alternatives.map((alt: Spec) => requiredOnly(doc, alt)) };
  if (!s.properties) return s;
  const required: string[] = s.required ?? [];
  return { ...s, properties: Object.fromEntries(Object.entries<Spec>(s.properties).filter(([name]) => required.includes(name))) };
}

// ---------------------------------------------------------------------------------------------
// Requests

/** Share of the requests that are well-formed (wellFormedRequestFor); the rest are built from junk. */
const WELL_FORMED_WEIGHT = 1;
const JUNK_WEIGHT = 3;

/** One request for `op`: mostly each part valid, junk or missing independently; a quarter of them well-formed. */
export function requestFor(doc: Spec, op: Operation, pools: Pools): fc.Arbitrary<FuzzRequest> {
  return fc.oneof({ weight: JUNK_WEIGHT, arbitrary: junkRequestFor(doc, op, pools) }, { weight: WELL_FORMED_WEIGHT, arbitrary: wellFormedRequestFor(doc, op, pools) });
}

/** One request for `op` with each part valid, junk or missing, independently. */
function junkRequestFor(doc: Spec, op: Operation, pools: Pools): fc.Arbitrary<FuzzRequest> {
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const queryParams = op.parameters.filter((p) => p.in === 'query');
  const headerParams = op.parameters.filter((p) => p.in === 'header');

  const path = fc
    .tuple(...pathParams.map((p) => pathValue(doc, p, pools)))
    .map((values) => {
      let i = 0;
      return op.template.replace(/\{\w+\}/g, () => values[i++]!);
    });
  const query = fc.tuple(fc.tuple(...queryParams.map((p) => queryValue(doc, p, pools))), fc.array(extraQueryPair, { maxLength: 2 })).map(([pairs, extra]) => {
    const all = [...pairs.flat(), ...extra];
    return all.length ? `?${all.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  });
  const headers = fc
    .tuple(authHeader(op, pools), fc.tuple(...headerParams.map((p) => headerValue(doc, p, pools))), extraHeaders)
    .map(([auth, own, extra]) => Object.assign({}, auth, ...own, extra) as Record<string, string>);
  const body: fc.Arbitrary<{ headers: Record<string, string>; body?: Buffer }> =
    op.body?.mediaType === 'application/json'
      ? jsonBody(doc, op.body.schema, pools, pools.acceptedBodies[op.operationId])
      : op.body?.mediaType === 'multipart/form-data'
        ? multipartBody(doc, op.body.schema, pools)
        : // An operation without a body may still get one: a stray JSON or junk body must change nothing.
          fc.oneof({ weight: 6, arbitrary: fc.constant({ headers: {} }) }, { weight: 1, arbitrary: jsonBody(doc, {}, pools) });

  return fc.record({ path, query, headers, body }).map(({ path: p, query: q, headers: h, body: b }) => ({
    operationId: op.operationId,
    method: op.method,
    path: p + q,
    headers: { ...h, ...b.headers },
    body: b.body,
  }));
}

/**
 * A request a careful client would send: the funded key, path and query parameters from the
 * account's own resources (pools.ownValues, by name) or, without one, a value the schema allows
 * (optional parameters whose schema does not say what a valid value is, such as cursors, are left
 * out), no other headers, and a body that was accepted before or is built from the schema
 * (required fields only, or all of them). Where the operation takes an Idempotency-Key: none, a
 * fresh one, or one accepted before, with its own body (a replay) or another (refused as reused).
 */
export function wellFormedRequestFor(doc: Spec, op: Operation, pools: Pools): fc.Arbitrary<FuzzRequest> {
  const own = (p: Parameter) => ownValuesOf(op, p, pools);
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  const path = fc
    .tuple(...pathParams.map((p) => (own(p).length ? fc.constantFrom(...own(p)) : valueOf(doc, p.schema, pools.knownStrings).map(String))))
    .map((values) => {
      let i = 0;
      return op.template.replace(/\{\w+\}/g, () => percentEncode(values[i++]!));
    });
  const query = fc.tuple(...op.parameters.filter((p) => p.in === 'query').map((p) => wellFormedQuery(doc, p, own(p), pools))).map((pairs) => {
    const all = pairs.flat();
    return all.length ? `?${all.map(([k, v]) => `${k}=${v}`).join('&')}` : '';
  });
  // Other header parameters (Prefer, Cancel-After, Last-Event-ID) only where required: a careful client sends none of them.
  const headerParams = op.parameters.filter((p) => p.in === 'header' && p.required && !/idempotency/i.test(p.name));
  const headers = fc
    .tuple(...headerParams.map((p) => valueOf(doc, p.schema, pools.knownStrings).map((v) => ({ [p.name]: latin1Safe(String(v)) }))))
    .map((own) => Object.assign({ Authorization: `Bearer ${pools.keys.funded}` }, ...own) as Record<string, string>);
  const takesIdempotencyKey = op.parameters.some((p) => p.in === 'header' && /idempotency/i.test(p.name));

  let body: fc.Arbitrary<{ headers: Record<string, string>; body?: Buffer }>;
  if (op.body?.mediaType === 'application/json') {
    const json = (v: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(v) ?? 'null') });
    const accepted = pools.acceptedBodies[op.operationId] ?? [];
    const fromSchema = fc.oneof(valueOf(doc, requiredOnly(doc, op.body.schema), pools.knownStrings), valueOf(doc, op.body.schema, pools.knownStrings));
    const values: fc.Arbitrary<unknown> = accepted.length ? fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...accepted) }, { weight: 1, arbitrary: fromSchema }) : fromSchema;
    const reusable = pools.acceptedIdempotencyKeys.filter((k) => k.operationId === op.operationId);
    const idempotent = (key: string) => (b: { headers: Record<string, string>; body?: Buffer }) => ({ ...b, headers: { ...b.headers, 'Idempotency-Key': key } });
    body = takesIdempotencyKey
      ? fc.oneof(
          { weight: 2, arbitrary: values.map(json) },
          { weight: 1, arbitrary: fc.tuple(values, fc.uuid()).map(([v, key]) => idempotent(`fuzz-${key}`)(json(v))) },
          ...(reusable.length
            ? [
                { weight: 1, arbitrary: fc.constantFrom(...reusable).map((k) => idempotent(k.key)(json(k.body))) },
                {
                  weight: 2,
                  arbitrary: fc
                    .tuple(fc.constantFrom(...reusable), values)
                    .filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(k.body))
                    .map(([k, v]) => idempotent(k.key)(json(v))),
                },
              ]
            : []),
        )
      : values.map(json);
  } else if (op.body?.mediaType === 'multipart/form-data') {
    body = wellFormedMultipart(doc, op.body.schema, pools);
  } else {
    body = fc.constant({ headers: {} });
  }
  return fc.record({ path, query, headers, body }).map(({ path: p, query: q, headers: h, body: b }) => ({
    operationId: op.operationId,
    wellFormed: true,
    method: op.method,
    path: p + q,
    headers: { ...h, ...b.headers },
    body: b.body,
  }));
}

function ownValuesOf(op: Operation, p: Parameter, pools: Pools): string[] {
  return pools.ownValues[`${op.operationId}.${p.name}`] ?? pools.ownValues[p.name] ?? [];
}

/** A query parameter of a well-formed request: the account's own value, or one its schema says is valid, or (if optional) none. */
function wellFormedQuery(doc: Spec, p: Parameter, own: string[], pools: Pools): fc.Arbitrary<Array<[string, string]>> {
  const s = deref(doc, p.schema);
  const definite = s.enum || s.pattern || s.format || ['integer', 'number', 'boolean'].includes(s.type);
  const value: fc.Arbitrary<string> | undefined = own.length
    ? fc.constantFrom(...own)
    : definite || p.required
      ? valueOf(doc, p.schema, pools.knownStrings).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))
      : undefined;
  if (!value) return fc.constant([]);
  const present = value.map((v): Array<[string, string]> => [[percentEncode(p.name), percentEncode(v)]]);
  return p.required ? present : fc.oneof(fc.constant<Array<[string, string]>>([]), present);
}

/** A multipart body of the documented fields: each file field gets the real image (an array one to three of them), other fields only if required. */
function wellFormedMultipart(doc: Spec, schema: Spec, pools: Pools): fc.Arbitrary<{ headers: Record<string, string>; body?: Buffer }> {
  const s = deref(doc, schema);
  const required: string[] = s.required ?? [];
  const boundary = 'fuzzWellFormed0gW7MA4YWxkTrZu';
  const parts = Object.entries<Spec>(s.properties ?? {}).map(([name, prop]): fc.Arbitrary<Buffer[]> => {
    const field = deref(doc, prop);
    const isFile = (f: Spec) => f.format === 'binary';
    const file = () => [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="photo.png"\r\nContent-Type: image/png\r\n\r\n`), pools.image, Buffer.from('\r\n')];
    if (isFile(field)) return fc.constant(file());
    if (field.type === 'array' && isFile(deref(doc, field.items))) return fc.integer({ min: 1, max: 3 }).map((n) => Array.from({ length: n }, file).flat());
    if (!required.includes(name)) return fc.constant([]);
    return valueOf(doc, field, pools.knownStrings).map((v) => [Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${typeof v === 'string' ? v : JSON.stringify(v)}\r\n`)]);
  });
  return fc.tuple(...parts).map((chunks) => ({
    headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
    body: Buffer.concat([...chunks.flat(), Buffer.from(`--${boundary}--\r\n`)]),
  }));
}

function pathValue(doc: Spec, _p: Parameter, pools: Pools): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...pools.ids) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 1, arbitrary: fc.uuid().map((u) => u.toUpperCase()) },
    { weight: 3, arbitrary: malformedEncoding },
    { weight: 3, arbitrary: junkString.filter((v) => v.length > 0).map((v) => percentEncode(v)) },
    { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) },
    { weight: 1, arbitrary: fc.constant('a'.repeat(3000)) },
    { weight: 1, arbitrary: junkNumber.map((n) => percentEncode(String(n))) },
  );
}

function queryValue(doc: Spec, p: Parameter, pools: Pools): fc.Arbitrary<Array<[string, string]>> {
  const name = percentEncode(p.name);
  const one = (v: fc.Arbitrary<string>) => v.map((value): Array<[string, string]> => [[name, value]]);
  const valid = valueOf(doc, p.schema, pools.knownStrings).map((v) => percentEncode(typeof v === 'string' ? v : JSON.stringify(v)));
  const isCursor = /cursor/i.test(p.name);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant<Array<[string, string]>>([]) },
    { weight: 4, arbitrary: one(valid) },
    { weight: 1, arbitrary: one(junkString.map(percentEncode)) },
    { weight: 1, arbitrary: one(junkNumber.map((n) => percentEncode(String(n)))) },
    { weight: 1, arbitrary: one(malformedEncoding) },
    { weight: isCursor ? 8 : 1, arbitrary: one(craftedCursor.map(percentEncode)) },
    // The same name twice (an array), and bracket syntax (a nested object, in parsers that do that).
    { weight: 1, arbitrary: fc.tuple(valid, junkString.map(percentEncode)).map(([a, b]): Array<[string, string]> => [[name, a], [name, b]]) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PROTOTYPE_KEYS), valid).map(([k, v]): Array<[string, string]> => [[`${name}[${k}]`, v], [`${name}[a][b][c]`, v]]) },
  );
}

const extraQueryPair: fc.Arbitrary<[string, string]> = fc.tuple(
  fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, '__proto__[admin]', 'constructor[prototype][admin]', 'workflow_id'), junkString.map(percentEncode)),
  fc.oneof(junkString.map(percentEncode), malformedEncoding),
);

function authHeader(op: Operation, pools: Pools): fc.Arbitrary<Record<string, string>> {
  const bearer = (k: string) => ({ Authorization: `Bearer ${k}` });
  return fc.oneof(
    { weight: op.secured ? 10 : 4, arbitrary: fc.constant(bearer(pools.keys.funded)) },
    { weight: 1, arbitrary: fc.constant(bearer(pools.keys.other)) },
    { weight: 1, arbitrary: fc.constant(bearer(pools.keys.revoked)) },
    { weight: 1, arbitrary: fc.constant({}) },
    // A made-up key: the funded key with its last character changed, a random token, junk.
    { weight: 1, arbitrary: fc.constant(bearer(pools.keys.funded.slice(0, -1) + (pools.keys.funded.endsWith('a') ? 'b' : 'a'))) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 80 }).map((k) => bearer(latin1Safe(k))) },
    { weight: 1, arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', `bearer ${pools.keys.funded}`, `Bearer  ${pools.keys.funded}`, `Bearer ${'k'.repeat(4000)}`).map((v) => ({ Authorization: v })) },
  );
}

function headerValue(doc: Spec, p: Parameter, pools: Pools): fc.Arbitrary<Record<string, string>> {
  const set = (v: fc.Arbitrary<string>) => v.map((value) => ({ [p.name]: value }));
  const isIdempotency = /idempotency/i.test(p.name);
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant({}) },
    { weight: isIdempotency ? 6 : 2, arbitrary: set(isIdempotency ? fc.constantFrom(...pools.idempotencyKeys) : valueOf(doc, p.schema, pools.knownStrings).map((v) => latin1Safe(String(v)))) },
    { weight: 2, arbitrary: set(junkString.map(latin1Safe)) },
    { weight: 1, arbitrary: set(fc.constantFrom('t=1,v1=abc', 'v1,Zm9v', '0', '-1', '99999999999999999999', 'x'.repeat(300))) },
  );
}

const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Record<string, string>>({}) },
  { weight: 1, arbitrary: fc.constantFrom<Record<string, string>>({ 'X-Request-Id': '../../etc' }, { 'X-Forwarded-For': 'not-an-ip, 999.1.1.1' }, { Accept: 'text/html' }, { 'Accept-Encoding': 'gzip, br' }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('x-junk', 'x-http-method-override', 'if-none-match', 'range', 'accept-charset'), junkString.map(latin1Safe), { maxKeys: 2 }) },
);

/** Header values may only hold tab and bytes 0x20-0x7e, 0x80-0xff (Node refuses others before sending). */
function latin1Safe(v: string): string {
  return Buffer.from(v, 'utf8').toString('latin1').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');
}

function deepNesting(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

const CONTENT_TYPES = [
  'application/json; charset=utf-16',
  'application/json; charset=koi8-r',
  'application/json; charset=utf-8; charset=latin1',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=nope',
  'application/xml',
  '*/*',
  'application/json+junk',
];

function jsonBody(doc: Spec, schema: Spec, pools: Pools, accepted: unknown[] = []): fc.Arbitrary<{ headers: Record<string, string>; body?: Buffer }> {
  const json = (v: unknown) => Buffer.from(JSON.stringify(v) ?? 'null');
  const generated = valueOf(doc, schema, pools.knownStrings);
  const valid = accepted.length ? fc.oneof(fc.constantFrom(...accepted), generated) : generated;
  // A valid body with one field replaced by junk, or with prototype keys added.
  const mutated = fc
    .tuple(valid, fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 10 })), junkJson)
    .map(([v, key, junk]) => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return `{"${key}":${JSON.stringify(junk) ?? 'null'}}`;
      const keys = Object.keys(v);
      const target = keys.length && key.length % 2 === 0 ? keys[key.length % keys.length]! : key;
      // Written by hand, so that "__proto__" is a real own key of the JSON text.
      const entries = Object.entries(v as Record<string, unknown>).filter(([k]) => k !== target);
      return `{${[...entries, [target, junk] as const].map(([k, val]) => `${JSON.stringify(k)}:${JSON.stringify(val) ?? 'null'}`).join(',')}}`;
    })
    .map((text) => Buffer.from(text));
  // Only the required fields, each valid: the request most likely to be accepted.
  const minimal = valueOf(doc, requiredOnly(doc, schema), pools.knownStrings);
  const withType = (body: fc.Arbitrary<Buffer>, type: fc.Arbitrary<string> = fc.constant('application/json')) =>
    fc.tuple(body, type).map(([b, t]) => ({ headers: { 'Content-Type': t }, body: b }));
  const oversized = Buffer.from(JSON.stringify({ prompt: 'x'.repeat(pools.jsonBodyLimitBytes + 16) }));
  return fc.oneof(
    { weight: 4, arbitrary: withType(minimal.map(json)) },
    { weight: 4, arbitrary: withType(valid.map(json)) },
    { weight: 4, arbitrary: withType(mutated) },
    { weight: 2, arbitrary: withType(junkJson.map(json)) },
    { weight: 2, arbitrary: withType(fc.constantFrom('{"model":', '{', '', 'null', '[]', '"x"', '1e999', 'NaN', '{"a":1,}', "{'a':1}", '\ufeff{}', '{"a":"\\ud800"}').map((t) => Buffer.from(t))) },
    { weight: 1, arbitrary: withType(fc.constantFrom(deepNesting(5000, 'array'), deepNesting(3000, 'object'), deepNesting(200, 'object')).map((t) => Buffer.from(t))) },
    { weight: 1, arbitrary: withType(fc.constant(oversized)) },
    { weight: 2, arbitrary: withType(valid.map(json), fc.constantFrom(...CONTENT_TYPES)) },
    // Bad encodings: bytes that are not UTF-8, a Content-Encoding the body does not have.
    { weight: 1, arbitrary: withType(fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b))) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid.map(json), fc.constantFrom('gzip', 'deflate', 'br', 'x-junk', 'identity, gzip'))
        .map(([b, enc]) => ({ headers: { 'Content-Type': 'application/json', 'Content-Encoding': enc }, body: b })),
    },
    { weight: 1, arbitrary: fc.constant({ headers: {} }) },
  );
}

function multipartBody(doc: Spec, schema: Spec, pools: Pools): fc.Arbitrary<{ headers: Record<string, string>; body?: Buffer }> {
  const s = deref(doc, schema);
  const fields = Object.entries<Spec>(s.properties ?? {});
  const fieldNames = fields.map(([name]) => name);
  const fileBytes = fc.oneof(
    fc.constant(pools.image),
    fc.constant(pools.image.subarray(0, Math.floor(pools.image.length / 2))),
    fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)),
    fc.constant(Buffer.from('just text')),
    fc.constant(Buffer.alloc(0)),
  );
  const part = fc.record({
    name: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(fieldNames.length ? fieldNames : ['file'])) }, { weight: 1, arbitrary: junkString.map(latin1Safe) }),
    filename: fc.option(fc.oneof(fc.constantFrom('a.png', '../../x.png', 'x'.repeat(300), 'ü.jpg', 'noext'), junkString.map(latin1Safe)), { nil: undefined }),
    type: fc.option(fc.constantFrom('image/png', 'image/jpeg', 'text/plain', 'application/octet-stream', 'junk'), { nil: undefined }),
    data: fc.oneof(fileBytes, junkString.map((v) => Buffer.from(v))),
  });
  const boundary = 'fuzzBoundary7MA4YWxkTrZu0gW';
  const encode = (parts: Array<{ name: string; filename?: string; type?: string; data: Buffer }>, truncate: boolean) => {
    const chunks: Buffer[] = [];
    for (const p of parts) {
      const disposition = `form-data; name="${p.name.replace(/"/g, '%22')}"${p.filename === undefined ? '' : `; filename="${p.filename.replace(/"/g, '%22')}"`}`;
      chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`, 'latin1'), p.data, Buffer.from('\r\n'));
    }
    if (!truncate) chunks.push(Buffer.from(`--${boundary}--\r\n`));
    return Buffer.concat(chunks);
  };
  return fc.oneof(
    {
      weight: 5,
      arbitrary: fc.tuple(fc.array(part, { maxLength: 6 }), fc.boolean()).map(([parts, truncate]) => ({
        headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
        body: encode(parts, truncate && parts.length > 0 && parts[0]!.name.length % 3 === 0),
      })),
    },
    // A boundary the body does not use, none at all, or not multipart.
    { weight: 1, arbitrary: fc.array(part, { minLength: 1, maxLength: 2 }).map((parts) => ({ headers: { 'Content-Type': 'multipart/form-data; boundary=other' }, body: encode(parts, false) })) },
    { weight: 1, arbitrary: fc.constant({ headers: { 'Content-Type': 'multipart/form-data' }, body: Buffer.from('--x\r\n\r\n') }) },
    { weight: 1, arbitrary: jsonBody(doc, {}, pools) },
    { weight: 1, arbitrary: fc.constant({ headers: {} }) },
  );
}

// ---------------------------------------------------------------------------------------------
// Sending

export interface FuzzResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * Sends the request as it is (no URL normalisation, no header rewriting) over a keep-alive agent.
 * An event stream is closed as soon as its headers arrived.
 */
export function send(baseUrl: string, agent: http.Agent, req: FuzzRequest, timeoutMs = 20_000): Promise<FuzzResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...req.headers };
    if (req.body) headers['Content-Length'] = req.body.length;
    const outgoing = http.request({ host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent }, (res) => {
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        res.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.alloc(0) });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', reject);
    outgoing.end(req.body);
  });
}

/** The request as a line a person can replay with curl. */
export function describe(req: FuzzRequest): string {
  const headers = Object.entries(req.headers).map(([k, v]) => ` -H ${JSON.stringify(`${k}: ${v.length > 120 ? `${v.slice(0, 120)}…` : v}`)}`);
  const body = req.body ? ` --data-binary ${JSON.stringify(req.body.length > 300 ? `${req.body.toString('latin1', 0, 300)}… (${req.body.length} bytes)` : req.body.toString('latin1'))}` : '';
  return `curl -X ${req.method} '${req.path.length > 300 ? `${req.path.slice(0, 300)}…` : req.path}'${headers.join('')}${body}`;
}
