import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(__dirname, '../..');
const SOURCE_DIRS = ['src', 'activities', 'workflows'];

/** Every .ts file of the service (generated code aside), relative to the repo. */
function sourceFiles(): string[] {
  const walk = (dir: string): string[] =>
    fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) return rel === path.join('src', 'generated') ? [] : walk(rel);
      return e.name.endsWith('.ts') ? [rel] : [];
    });
  return SOURCE_DIRS.flatMap(walk);
}

/** The files a file imports at run time (type-only imports are erased, so they cannot form a cycle that runs). */
function valueImports(file: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => m[1]!);
  return specs.flatMap((spec) => {
    const base = path.join(path.dirname(file), spec);
    const found = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(path.join(ROOT, f)));
    return found ? [found] : [];
  });
}

/** Strongly connected components with more than one file (or a file importing itself): the cycles. */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

/** The repository's top folders the product (src/, activities/, workflows/) may never reach. */
const NOT_PRODUCT = ['tools', 'test', 'scripts'];

const compilerOptions = ts.parseJsonConfigFileContent(ts.readConfigFile(path.join(ROOT, 'tsconfig.json'), ts.sys.readFile).config, ts.sys, ROOT).options;

/**
 * Every repository file `file` reaches: its imports of any kind (value, type-only, re-exports,
 * dynamic import(), require()), resolved as the compiler resolves them, and every relative path
 * written as a string (a module loaded by file path at run time), resolved from the file's folder.
 */
function reaches(file: string): string[] {
  const abs = path.join(ROOT, file);
  const text = fs.readFileSync(abs, 'utf8');
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  const imports = specifiers.flatMap((specifier) => {
    const resolved = ts.resolveModuleName(specifier, abs, compilerOptions, ts.sys).resolvedModule?.resolvedFileName;
    return resolved && !resolved.includes(`${path.sep}node_modules${path.sep}`) ? [path.relative(ROOT, resolved)] : [];
  });
  const pathStrings = [...text.matchAll(/['"`](\.\.?\/[^'"`$]*)['"`]/g)]
    .map((m) => m[1]!)
    .filter((literal) => !specifiers.includes(literal))
    .map((literal) => path.relative(ROOT, path.resolve(path.dirname(abs), literal)));
  return [...new Set([...imports, ...pathStrings])];
}

describe('when the product and the tools import each other', () => {
  it('then no file of the product reaches tools/ (the bench too), test/ or scripts/, by import or by file path', () => {
    const offenders = sourceFiles().flatMap((f) => reaches(f).filter((to) => NOT_PRODUCT.includes(to.split(path.sep)[0]!)).map((to) => `${f} -> ${to}`));
    expect(offenders).toEqual([]);
  });

  it('then the tools may import the product: the dev API entry is seen reaching src/server.ts and the hooks', () => {
    expect(reaches(path.join('tools', 'dev', 'api.ts'))).toEqual(expect.arrayContaining([path.join('src', 'server.ts')]));
    expect(reaches(path.join('tools', 'dev', 'local-dev-hooks.ts'))).toEqual(expect.arrayContaining([path.join('src', 'dev-hooks.ts'), path.join('src', 'catalog', 'contract.ts')]));
  });
});

describe('when the modules import each other', () => {
  const graph = new Map(sourceFiles().map((f) => [f, valueImports(f)]));

  it('then there is no import cycle anywhere', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("then the worker reaches no API service: it reads jobs, prompts and batches through their rows and views modules, not the services that accept and cancel them", () => {
    const reached = new Set<string>();
    const visit = (f: string) => {
      if (reached.has(f)) return;
      reached.add(f);
      for (const d of graph.get(f) ?? []) visit(d);
    };
    visit(path.join('src', 'worker.ts'));
    expect(reached.has(path.join('src', 'webhooks-out', 'resource.ts'))).toBe(true);
    const services = ['jobs', 'prompts', 'batches', 'training', 'uploads', 'accounts'].map((d) => path.join('src', d, 'service.ts'));
    expect(services.filter((s) => reached.has(s))).toEqual([]);
  });

  it('then layers point one way: only the HTTP layer and the process entry points import from src/http', () => {
    const allowed = (f: string) => f.startsWith(path.join('src', 'http')) || f === path.join('src', 'server.ts');
    const offenders = [...graph].filter(([f, deps]) => !allowed(f) && deps.some((d) => d.startsWith(path.join('src', 'http') + path.sep))).map(([f]) => f);
    expect(offenders).toEqual([]);
  });
});
