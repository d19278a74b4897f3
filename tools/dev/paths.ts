import fs from 'node:fs';
import path from 'node:path';

/** The repository root: the nearest ancestor of this file holding package.json and temporal-config/
 *  (tools/dev runs from source, under tsx or jest). */
export const REPO_ROOT: string = (() => {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'temporal-config'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(__dirname, '../..');
    dir = parent;
  }
})();

export const TOOLS_DIR = path.join(REPO_ROOT, '.tools');
export const TOOLS_BIN = path.join(TOOLS_DIR, 'bin');
export const TEMPORAL_CONFIG_DIR = path.join(REPO_ROOT, 'temporal-config');

/** `.tools/bin/<name>` if executable, else the first `<name>` on PATH, else undefined. */
export function findTool(name: string): string | undefined {
  const candidates = [
    path.join(TOOLS_BIN, name),
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name)),
  ];
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      /* next */
    }
  }
  return undefined;
}
