import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import type { Response } from 'supertest';
import type { z } from 'zod';
import { topUp } from '../../src/credits/ledger';
import { createApp } from '../../src/http/app';
import { apiRoutes } from '../../src/http/openapi/registry';
import { ErrorBody } from '../../src/http/openapi/responses';
import { MODEL_PATTERN } from '../../src/jobs/schemas';
import { createLogger } from '../../src/logger';
import { trainedVersion } from '../helpers/factories';
import sharp from 'sharp';
import { binaryParser, eventually } from '../helpers/http';
import { startTestEnv, type TestEnv, type TestUser } from '../helpers/test-env';

/** Routes of the app that are not part of the API document. */
const NOT_DOCUMENTED = [/^GET \/openapi\.json$/, /^GET \/docs(\/.*)?$/, /^GET \/metrics$/];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Spec = Record<string, any>;
let env: TestEnv;
let spec: Spec;

beforeAll(async () => {
  env = await startTestEnv({ knobs: { latency_ms: 50 } });
  const res = await env.api.get('/openapi.json').expect(200);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  spec = res.body;
});
afterAll(() => env?.stop());

// ---------------------------------------------------------------------------------------------
// The Express app's routes

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  /** router 2.x keeps the mount path as given to app.use(). */
  rawPath?: unknown;
  match?(path: string): false | { path: string };
}

/** Where a router layer is mounted: its rawPath, or (older routers) the prefix it matches of a known mount. */
function mountPath(layer: Layer): string {
  if (typeof layer.rawPath === 'string') return layer.rawPath;
  for (const candidate of ['/api/v1/webhooks', '/api/v1', '/']) {
    const matched = layer.match?.(`${candidate}/x`);
    if (matched) return matched.path;
  }
  throw new Error('A router is mounted at a path this test does not know; add it to the candidates in mountPath()');
}

const joinPath = (...parts: string[]) => parts.join('/').replace(/\/+/g, '/').replace(/(.)\/$/, '$1');
const openApiPath = (expressPath: string) => expressPath.replace(/:(\w+)/g, '{$1}');

/** Every "METHOD /path" the app routes, with router mount prefixes, in OpenAPI path syntax. */
function appRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const path of [layer.route.path].flat()) {
          for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
            found.push(`${method.toUpperCase()} ${openApiPath(joinPath(prefix, path))}`);
          }
        }
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack, joinPath(prefix, mountPath(layer)));
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '/');
  return [...new Set(found)].sort();
}

function specOperations(doc: Spec): string[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

describe('GET /openapi.json', () => {
  it('documents every route of the Express app, and nothing the app does not route', () => {
    const app = createApp({ config: env.config, logger: createLogger({ level: 'silent', name: 'openapi-test' }), temporal: env.temporal, ...env.runtime });
    const routes = appRoutes(app);
    expect(routes).toEqual(expect.arrayContaining(['GET /health', 'POST /api/v1/generate', 'POST /api/v1/webhooks/stripe', 'GET /openapi.json']));

    const documented = new Set(specOperations(spec));
    const missing = routes.filter((r) => !documented.has(r) && !NOT_DOCUMENTED.some((re) => re.test(r)));
    expect({ missingFromSpec: missing }).toEqual({ missingFromSpec: [] });
    const stale = [...documented].filter((op) => !routes.includes(op));
    expect({ notRoutedByApp: stale }).toEqual({ notRoutedByApp: [] });
  });

  it('is a structurally valid OpenAPI 3.0 document', () => {
    expect(openApiProblems(spec)).toEqual([]);
    // The checker itself catches what it is meant to.
    const broken = structuredClone(spec);
    broken.paths['/api/v1/status/{job_id}'].get.parameters = [];
    broken.paths['/api/v1/jobs'].get.operationId = 'getJob';
    broken.paths['/api/v1/plans'].get.responses = {};
    broken.paths['/api/v1/users'].post.responses['201'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
    broken.components.schemas.Plan.properties.id.pattern = '^[a-z]+$/i(';
    expect(openApiProblems(broken)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('{job_id} is not declared'),
        expect.stringContaining('operationId "getJob" is not unique'),
        expect.stringContaining('GET /api/v1/plans: no responses'),
        expect.stringContaining('#/components/schemas/Nope does not resolve'),
        expect.stringContaining('is not a valid regex'),
      ]),
    );
  });

  it('describes the bearer API key, request bodies, the error body and 202 + Location for async starts', () => {
    expect(spec.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    const generate = spec.paths['/api/v1/generate'].post;
    expect(generate.security).toEqual([{ apiKey: [] }]);
    expect(generate.requestBody.content['application/json'].schema.properties.prompt).toMatchObject({ type: 'string', maxLength: 4000 });
    expect(generate.parameters).toEqual([
      expect.objectContaining({ in: 'header', name: 'Idempotency-Key', required: false }),
      expect.objectContaining({ in: 'header', name: 'Prefer', required: false }),
      expect.objectContaining({ in: 'header', name: 'Cancel-After', required: false }),
    ]);
    expect(generate.responses['202'].headers.Location).toBeDefined();
    expect(generate.responses['201'].headers['Preference-Applied']).toBeDefined();
    expect(Object.keys(generate.responses)).toEqual(['201', '202', '400', '401', '402', '413', '415', '422', '429', '500', '503']);
    expect(generate.responses['422'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });

    // The model pattern is case-insensitive in zod (/i): the published pattern must agree without flags.
    const pattern = new RegExp(generate.requestBody.content['application/json'].schema.properties.model.pattern);
    for (const model of ['black-forest-labs/flux-schnell', 'Owner/Model', `a/b:${'ab'.repeat(32)}`, 'no-slash', 'a/b:xyz', 'A/B:' + 'AB'.repeat(32)]) {
      expect([model, pattern.test(model)]).toEqual([model, MODEL_PATTERN.test(model)]);
    }

    const train = spec.paths['/api/v1/versions/train/{payment_id}'].post;
    const form = train.requestBody.content['multipart/form-data'].schema;
    expect(form.properties.images).toEqual(expect.objectContaining({ type: 'array', items: { type: 'string', format: 'binary' } }));
    expect(form.properties.trigger_word).toMatchObject({ type: 'string' });
    expect(Object.keys(train.responses)).toEqual(expect.arrayContaining(['202', '401', '404', '409', '413', '415', '422', '503']));
    expect(spec.paths['/api/v1/prompts/create/{version_id}'].post.responses['402']).toBeDefined();
    expect(spec.paths['/api/v1/users'].post.security).toEqual([]);
  });

  it('declares security truthfully: without an API key every secured operation answers 401, every public one does not', async () => {
    for (const op of specOperations(spec)) {
      const [method, template] = op.split(' ') as [string, string];
      const operation = spec.paths[template][method.toLowerCase()];
      const res = await env.api[method.toLowerCase() as 'get'](template.replace(/\{\w+\}/g, randomUUID()));
      const secured = operation.security.length > 0;
      expect([op, secured ? res.status : res.status !== 401]).toEqual([op, secured ? 401 : true]);
      expectDocumented(method.toLowerCase(), template, res);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Real responses against the documented response schemas

/** The response is documented for this operation, and its JSON body has exactly the documented shape. */
function expectDocumented(method: string, template: string, res: Response): void {
  const operation = spec.paths[template]?.[method];
  expect([`${method} ${template}`, Object.keys(operation?.responses ?? {})]).toEqual([`${method} ${template}`, expect.arrayContaining([String(res.status)])]);
  const reply = apiRoutes.find((r) => r.method === method && r.path === template)?.responses[res.status];
  if (res.status >= 400 && !reply) {
    expectShape(ErrorBody, res.body);
    expect(operation.responses[res.status].description).toContain(`\`${res.body.error.code}\``);
    return;
  }
  if (reply?.json) expectShape(reply.json, res.body);
  if (reply?.content) {
    const [type] = String(res.headers['content-type']).split(';');
    expect([type, Object.keys(reply.content).some((range) => range === type || (range.endsWith('/*') && type!.startsWith(range.slice(0, -1))))]).toEqual([type, true]);
  }
  if (reply?.location) expect(res.headers.location).toMatch(/^\/api\/v1\/\S+$/);
}

/** zod objects drop unknown keys, so equality after parsing also catches undocumented fields. */
function expectShape(schema: z.ZodType, body: unknown): void {
  const parsed = schema.safeParse(body);
  expect(parsed.error?.issues ?? []).toEqual([]);
  expect(parsed.data).toEqual(body);
}

describe('real responses match the documented schemas', () => {
  let user: TestUser;
  beforeAll(async () => {
    user = await env.createUser();
    await env.db.$transaction((tx) => topUp(tx, { userId: user.id, purchaseId: randomUUID(), credits: 100 }));
  });
  const call = async (method: 'get' | 'post' | 'delete', template: string, params: Record<string, string> = {}, build = (r: any) => r) => {
    const url = template.replace(/\{(\w+)\}/g, (_, name: string) => params[name]!);
    const res: Response = await build(env.api[method](url).set(user.auth));
    expectDocumented(method, template, res);
    return res;
  };

  it('accounts, plans, health', async () => {
    const email = `docs-${randomUUID().slice(0, 8)}@example.com`;
    await call('post', '/api/v1/users', {}, (r) => r.send({ email }));
    await call('post', '/api/v1/users', {}, (r) => r.send({ email }));
    await call('post', '/api/v1/users', {}, (r) => r.send({ email: 'nope' }));
    await call('get', '/api/v1/plans');
    await call('get', '/health');
    await call('get', '/health/ready');
  });

  it('a generation job from start to download', async () => {
    const started = await call('post', '/api/v1/generate', {}, (r) => r.send({ model: 'black-forest-labs/flux-schnell', prompt: 'a lighthouse', num_outputs: 2 }));
    const job_id = started.body.job_id as string;
    await env.waitForJob(user, job_id);
    await call('get', '/api/v1/status/{job_id}', { job_id });
    await call('get', '/api/v1/jobs/{job_id}/metadata', { job_id });
    await call('get', '/api/v1/jobs', {}, (r) => r.query({ limit: 1 }));
    await call('get', '/api/v1/download/{job_id}', { job_id }, (r) => r.query({ index: 1 }).buffer(true).parse(binaryParser as never));
    await call('delete', '/api/v1/jobs/{job_id}', { job_id });
    await call('get', '/api/v1/status/{job_id}', { job_id: randomUUID() });
    await call('post', '/api/v1/generate', {}, (r) => r.set('Content-Type', 'application/json').send('{"model":'));
  });

  it('credits, the model catalog and uploads', async () => {
    await call('get', '/api/v1/balance');
    await call('get', '/api/v1/credit-packs');
    await call('get', '/api/v1/models');
    const bought = await call('post', '/api/v1/credits/checkout', {}, (r) => r.send({ pack_id: 'credits-100' }));
    await call('get', '/api/v1/credits/purchases/{purchase_id}', { purchase_id: bought.body.purchase_id });
    await call('post', '/api/v1/credits/checkout', {}, (r) => r.send({ pack_id: 'no-such-pack' }));
    await call('get', '/api/v1/usage', {}, (r) => r.query({ limit: 5 }));
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#08f' } }).png().toBuffer();
    await call('post', '/api/v1/uploads', {}, (r) => r.attach('file', png, 'pixel.png'));
    await call('post', '/api/v1/uploads', {}, (r) => r.attach('file', Buffer.from('just text'), 'notes.txt'));
    await call('post', '/api/v1/uploads', {}, (r) => r.send({ file: 'not multipart' }));
  });

  it('payments and training', async () => {
    const created = await call('post', '/api/v1/payments/create', {}, (r) => r.send({ plan_id: 'starter' }));
    const payment_id = created.body.payment_id as string;
    await call('get', '/api/v1/payments/{payment_id}', { payment_id });
    await call('post', '/api/v1/versions/train/{payment_id}', { payment_id }, (r) => r.field('trigger_word', 'TOK'));
  });

  it('models and prompts', async () => {
    const { id: version_id } = await trainedVersion(env.db, user.id);
    await call('get', '/api/v1/versions/info/{version_id}', { version_id });
    await call('get', '/api/v1/versions');
    const started = await call('post', '/api/v1/prompts/create/{version_id}', { version_id }, (r) => r.send({ prompt: 'TOK on the moon', num_outputs: 1 }));
    const prompt_id = started.body.prompt_id as string;
    await eventually(async () => (await env.api.get(`/api/v1/prompts/${prompt_id}`).set(user.auth)).body.status === 'succeeded', 30_000);
    await call('get', '/api/v1/prompts/{prompt_id}', { prompt_id });
    await call('get', '/api/v1/prompts/list/{version_id}', { version_id });
    await call('delete', '/api/v1/prompts/{prompt_id}', { prompt_id });
  });
});

// ---------------------------------------------------------------------------------------------
// Swagger UI

describe('GET /docs', () => {
  it('serves a Swagger UI page whose scripts and styles are bundled locally, pointed at /openapi.json', async () => {
    const page = await env.api.get('/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/init.js']));
    expect(assets.every((a) => a.startsWith('/'))).toBe(true); // nothing from a CDN
    // No inline script, so the page works under the API's Content-Security-Policy (script-src 'self').
    expect(page.text.match(/<script[^>]*>/g)?.every((tag) => / src="\//.test(tag))).toBe(true);

    for (const asset of assets) {
      const res = await env.api.get(asset).buffer(true).parse(binaryParser as never);
      expect([asset, res.status]).toEqual([asset, 200]);
      if (asset.endsWith('.js')) expect(res.headers['content-type']).toMatch(/javascript/);
    }
    const bundle = await env.api.get('/docs/assets/swagger-ui-bundle.js').buffer(true).parse(binaryParser as never).expect(200);
    expect(bundle.body.toString('utf8', 0, 2000)).toMatch(/SwaggerUIBundle|swagger/i);
    expect(bundle.body.length).toBeGreaterThan(100_000);
    const init = await env.api.get('/docs/init.js').buffer(true).parse(binaryParser as never).expect(200);
    expect(init.body.toString()).toContain("url: '/openapi.json'");
  });
});

// ---------------------------------------------------------------------------------------------
// A focused structural check of an OpenAPI 3.0 document (no validator package is installed)

const PARAMETER_LOCATIONS = ['query', 'header', 'path', 'cookie'];
const SCHEMA_TYPES = ['string', 'number', 'integer', 'boolean', 'array', 'object'];
const PATH_ITEM_KEYS = new Set<string>([...METHODS, 'summary', 'description', 'servers', 'parameters', '$ref']);

function openApiProblems(doc: Spec): string[] {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);

  if (!/^3\.0\.\d+$/.test(String(doc.openapi))) problem('openapi', `"${doc.openapi}" is not 3.0.x`);
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') problem('info', 'needs title and version');
  if (!doc.paths || typeof doc.paths !== 'object') problem('paths', 'missing');

  const tags = new Set((doc.tags ?? []).map((t: { name: string }) => t.name));
  const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
  const operationIds = new Map<string, string>();

  for (const [path, item] of Object.entries<Record<string, any>>(doc.paths ?? {})) {
    if (!path.startsWith('/')) problem(path, 'does not start with /');
    for (const key of Object.keys(item)) if (!PATH_ITEM_KEYS.has(key)) problem(path, `unknown key "${key}"`);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method];
      const where = `${method.toUpperCase()} ${path}`;
      if (!op.responses || Object.keys(op.responses).length === 0) problem(where, 'no responses');
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) problem(where, `response key "${status}" is not a status code`);
        if (!response.$ref && typeof response.description !== 'string') problem(`${where} ${status}`, 'response needs a description');
      }

      if (typeof op.operationId !== 'string') problem(where, 'no operationId');
      else if (operationIds.has(op.operationId)) problem(where, `operationId "${op.operationId}" is not unique (also ${operationIds.get(op.operationId)})`);
      else operationIds.set(op.operationId, where);

      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: any) => (p.$ref ? resolve(doc, p.$ref) ?? {} : p));
      const seen = new Set<string>();
      for (const p of parameters) {
        if (typeof p.name !== 'string' || !PARAMETER_LOCATIONS.includes(p.in)) problem(where, `parameter ${JSON.stringify(p)} needs name and a valid "in"`);
        if (seen.has(`${p.in}:${p.name}`)) problem(where, `parameter ${p.in} "${p.name}" is declared twice`);
        seen.add(`${p.in}:${p.name}`);
        if (!p.schema === !p.content) problem(where, `parameter "${p.name}" needs exactly one of schema and content`);
        if (p.in === 'path' && p.required !== true) problem(where, `path parameter "${p.name}" must be required`);
        if (p.in === 'path' && !templated.includes(p.name)) problem(where, `path parameter "${p.name}" is not in the path`);
      }
      for (const name of templated) {
        if (!parameters.some((p: any) => p.in === 'path' && p.name === name)) problem(where, `path parameter {${name}} is not declared`);
      }

      if (op.requestBody && !op.requestBody.$ref && Object.keys(op.requestBody.content ?? {}).length === 0) problem(where, 'requestBody has no content');
      for (const requirement of op.security ?? doc.security ?? []) {
        for (const name of Object.keys(requirement)) if (!schemes.has(name)) problem(where, `security scheme "${name}" is not defined`);
      }
      for (const tag of op.tags ?? []) if (tags.size && !tags.has(tag)) problem(where, `tag "${tag}" is not declared`);
    }
  }

  for (const name of Object.keys(doc.components?.schemas ?? {})) {
    if (!/^[a-zA-Z0-9._-]+$/.test(name)) problem(`components.schemas.${name}`, 'invalid component name');
  }
  walk(doc, '#', (node, pointer) => {
    if (typeof node.$ref === 'string' && resolve(doc, node.$ref) === undefined) problem(pointer, `${node.$ref} does not resolve`);
  });
  for (const [pointer, schema] of schemaObjects(doc)) checkSchema(schema, pointer, problem);
  return problems;
}

function checkSchema(schema: any, where: string, problem: (where: string, what: string) => void): void {
  if (schema.$ref) return;
  if (schema.type !== undefined && !SCHEMA_TYPES.includes(schema.type)) problem(where, `type ${JSON.stringify(schema.type)} is not an OpenAPI 3.0 type`);
  if (schema.type === 'array' && !schema.items) problem(where, 'array without items');
  if (schema.required !== undefined) {
    if (!Array.isArray(schema.required) || schema.required.length === 0) problem(where, 'required must be a non-empty array');
    else if (schema.properties) for (const r of schema.required) if (!(r in schema.properties)) problem(where, `required "${r}" is not a property`);
  }
  if (schema.enum !== undefined && (!Array.isArray(schema.enum) || schema.enum.length === 0)) problem(where, 'enum must be a non-empty array');
  if (schema.pattern !== undefined) {
    try {
      new RegExp(schema.pattern, 'u');
    } catch {
      problem(where, `pattern ${JSON.stringify(schema.pattern)} is not a valid regex`);
    }
  }
  const nested: Array<[string, unknown]> = [
    ...Object.entries(schema.properties ?? {}).map(([k, v]) => [`${where}/properties/${k}`, v] as [string, unknown]),
    [`${where}/items`, schema.items],
    [`${where}/additionalProperties`, typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined],
    [`${where}/not`, schema.not],
    ...(['allOf', 'anyOf', 'oneOf'] as const).flatMap((k) => (schema[k] ?? []).map((s: unknown, i: number) => [`${where}/${k}/${i}`, s] as [string, unknown])),
  ];
  for (const [pointer, sub] of nested) if (sub && typeof sub === 'object') checkSchema(sub, pointer, problem);
}

/** The roots of every schema: components, parameters, media types and headers. */
function schemaObjects(doc: Spec): Array<[string, any]> {
  const roots: Array<[string, any]> = Object.entries(doc.components?.schemas ?? {}).map(([k, v]) => [`#/components/schemas/${k}`, v]);
  walk(doc.paths ?? {}, '#/paths', (node, pointer) => {
    if (node.schema && typeof node.schema === 'object' && ('in' in node || pointer.includes('/content/') || pointer.includes('/headers/'))) {
      roots.push([`${pointer}/schema`, node.schema]);
    }
  });
  return roots;
}

function walk(node: unknown, pointer: string, visit: (node: Record<string, any>, pointer: string) => void): void {
  if (!node || typeof node !== 'object') return;
  visit(node as Record<string, any>, pointer);
  for (const [key, value] of Object.entries(node)) walk(value, `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, visit);
}

function resolve(doc: Spec, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: any = doc;
  for (const part of ref.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (node === null || typeof node !== 'object' || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}
