import { OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { apiRoutes, createRegistry } from './registry';
import { TAGS, type ApiRoute } from './route';

export type OpenApiDocument = ReturnType<OpenApiGeneratorV3['generateDocument']>;

const DESCRIPTION = `
Image generation and model training on durable Temporal workflows.

- **Authentication**: create an account with \`POST /api/v1/users\`, then send its API key as \`Authorization: Bearer <api_key>\`.
- **Asynchronous work** (jobs, trainings, prompts) answers \`202 Accepted\` with a \`Location\` header; poll it until the status is final.
- **Errors** always have the body \`{ "error": { "code", "message", "details"? } }\`; each response lists the codes it can carry.
- **Lists** are newest first; pass \`next_cursor\` back as \`cursor\` for the next page.
`.trim();

/** The OpenAPI 3.0 document of the API, generated from the zod schemas in ./registry.ts. */
export function buildOpenApiDocument(routes: ApiRoute[] = apiRoutes): OpenApiDocument {
  const document = new OpenApiGeneratorV3(createRegistry(routes).definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'imagegen API', version: '1.0.0', description: DESCRIPTION },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
  });
  return portableRegexPatterns(document);
}

/**
 * zod-to-openapi writes a regex with flags as `source/flags` (`^[a-z]+$/i`), which is not a
 * valid pattern: OpenAPI patterns have no flags. Rewrite `i` as explicit letter cases where
 * that is safe; otherwise drop the pattern rather than publish a wrong one.
 */
function portableRegexPatterns<T>(node: T): T {
  if (Array.isArray(node)) return node.map(portableRegexPatterns) as T;
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'pattern' && typeof value === 'string') {
      const pattern = withoutFlags(value);
      if (pattern !== undefined) out[key] = pattern;
    } else {
      out[key] = portableRegexPatterns(value);
    }
  }
  return out as T;
}

function withoutFlags(pattern: string): string | undefined {
  const flagged = /^(.*)\/([dgimsuvy]+)$/s.exec(pattern);
  if (!flagged || !isRegExp(flagged[1]!, flagged[2]!)) return pattern;
  const source = flagged[1]!;
  const flags = flagged[2]!.replace(/[dguy]/g, '');
  if (flags === '') return source;
  if (flags === 'i') return caseInsensitive(source);
  return undefined;
}

function isRegExp(source: string, flags: string): boolean {
  try {
    new RegExp(source, flags);
    return true;
  } catch {
    return false;
  }
}

/** `a` → `[aA]`, `[a-z]` → `[a-zA-Z]`; undefined for syntax this does not rewrite. */
export function caseInsensitive(source: string): string | undefined {
  // Escapes whose following letters are not literals, and named groups.
  if (/\\[pPuxkc]|\(\?</.test(source)) return undefined;
  const isLower = (c: string) => c >= 'a' && c <= 'z';
  const isUpper = (c: string) => c >= 'A' && c <= 'Z';
  const other = (c: string) => (isLower(c) ? c.toUpperCase() : isUpper(c) ? c.toLowerCase() : '');
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
    } else if (inClass) {
      const to = source[i + 2];
      if (source[i + 1] === '-' && to !== undefined && to !== ']' && to !== '\\') {
        const sameCase = (isLower(c) && isLower(to)) || (isUpper(c) && isUpper(to));
        const noLetters = c > 'z' || to < 'A' || (c > 'Z' && to < 'a');
        if (!sameCase && !noLetters) return undefined;
        out += `${c}-${to}${sameCase ? `${other(c)}-${other(to)}` : ''}`;
        i += 2;
      } else {
        if (c === ']') inClass = false;
        out += c + other(c);
      }
    } else if (c === '[') {
      inClass = true;
      out += c;
      if (source[i + 1] === '^') out += source[++i];
    } else {
      out += other(c) ? `[${c}${other(c)}]` : c;
    }
  }
  return out;
}
