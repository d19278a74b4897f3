import fs from 'node:fs';
import path from 'node:path';

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

describe('when the modules import each other', () => {
  const graph = new Map(sourceFiles().map((f) => [f, valueImports(f)]));

  it('then there is no import cycle anywhere', () => {
    expect(cycles(graph)).toEqual([]);
  });

  it('then layers point one way: only the HTTP layer and the process entry points import from src/http', () => {
    const allowed = (f: string) => f.startsWith(path.join('src', 'http')) || f === path.join('src', 'server.ts');
    const offenders = [...graph].filter(([f, deps]) => !allowed(f) && deps.some((d) => d.startsWith(path.join('src', 'http') + path.sep))).map(([f]) => f);
    expect(offenders).toEqual([]);
  });
});
