/**
 * Reads temporal-config/dynamic-config.yaml (Temporal's file-based dynamic config format) and turns
 * it into `temporal server start-dev` flags: CLI v1.5.1's start-dev has no dynamic-config *file*
 * option, only repeated `--dynamic-config-value KEY=JSON`.
 *
 * Supported subset (all this project needs; anything else is an error, not silently ignored):
 *
 *   # comment
 *   some.key:
 *     - value: 10000          # number, true/false, "string", 'string', bare string, or JSON [..]/{..}
 *       constraints: {}       # must be empty or absent: flags cannot express constraints
 *
 * No YAML dependency on purpose (the `yaml` in node_modules is only a transitive one).
 */
import fs from 'node:fs';
import path from 'node:path';
import { TEMPORAL_CONFIG_DIR } from './paths';

export interface DynamicConfigEntry {
  key: string;
  value: unknown;
}

export const DYNAMIC_CONFIG_FILE = path.join(TEMPORAL_CONFIG_DIR, 'dynamic-config.yaml');

/** Removes a trailing `# comment` that is outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || line[i - 1] === ' ' || line[i - 1] === '\t')) {
      return line.slice(0, i);
    }
  }
  return line;
}

function parseScalar(raw: string, where: string): unknown {
  const s = raw.trim();
  if (s === '') throw new Error(`${where}: empty value`);
  if (s.startsWith('"')) return JSON.parse(s);
  if (s.startsWith("'")) {
    if (!s.endsWith("'") || s.length < 2) throw new Error(`${where}: unterminated string ${s}`);
    return s.slice(1, -1).replace(/''/g, "'");
  }
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  if (s === 'null' || s === '~') return null;
  if (/^[-+]?\d+$/.test(s)) return Number.parseInt(s, 10);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$/.test(s)) return Number.parseFloat(s);
  if (s.startsWith('[') || s.startsWith('{')) {
    try {
      return JSON.parse(s);
    } catch {
      throw new Error(`${where}: flow collections must be valid JSON here: ${s}`);
    }
  }
  return s; // bare string, e.g. a duration like 100ms
}

export function parseDynamicConfig(text: string, file = 'dynamic-config.yaml'): DynamicConfigEntry[] {
  const entries: DynamicConfigEntry[] = [];
  type Item = { value?: unknown; hasValue: boolean; constraints?: unknown; line: number };
  let key: string | null = null;
  let items: Item[] = [];
  let current: Item | null = null;

  const flush = () => {
    if (key === null) return;
    const where = `${file}: ${key}`;
    if (items.length === 0) throw new Error(`${where}: no values`);
    const unconstrained = items.filter((it) => {
      const c = it.constraints;
      return c === undefined || c === null || (typeof c === 'object' && Object.keys(c as object).length === 0);
    });
    if (unconstrained.length !== items.length) {
      throw new Error(`${where}: constrained values cannot be passed to start-dev; only 'constraints: {}' is supported`);
    }
    if (unconstrained.length > 1) throw new Error(`${where}: more than one unconstrained value`);
    const item = unconstrained[0]!;
    if (!item.hasValue) throw new Error(`${file}:${item.line}: list item without 'value'`);
    entries.push({ key, value: item.value });
    key = null;
    items = [];
    current = null;
  };

  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, idx) => {
    const lineNo = idx + 1;
    const where = `${file}:${lineNo}`;
    const line = stripComment(rawLine).replace(/\s+$/, '');
    if (line.trim() === '' || line.trim() === '---') return;
    if (/\t/.test(line.match(/^\s*/)![0])) throw new Error(`${where}: tabs are not allowed for indentation`);

    const top = /^([A-Za-z0-9_.\-]+):\s*$/.exec(line);
    if (top) {
      flush();
      key = top[1]!;
      if (entries.some((e) => e.key === key)) throw new Error(`${where}: duplicate key ${key}`);
      return;
    }
    if (key === null) throw new Error(`${where}: expected 'some.key:' at column 1, got: ${rawLine.trim()}`);

    const item = /^\s+-\s+([A-Za-z]+):\s*(.*)$/.exec(line);
    const cont = /^\s+([A-Za-z]+):\s*(.*)$/.exec(line);
    const m = item ?? cont;
    if (!m) throw new Error(`${where}: unsupported syntax: ${rawLine.trim()}`);
    if (item) {
      current = { hasValue: false, line: lineNo };
      items.push(current);
    } else if (!current) {
      throw new Error(`${where}: expected a list item ('- value: ...') under ${key}`);
    }
    const field = m[1]!;
    if (m[2]!.trim() === '') {
      throw new Error(
        field === 'constraints'
          ? `${where}: constrained values cannot be passed to start-dev; only 'constraints: {}' is supported`
          : `${where}: '${field}:' needs a value on the same line (block values are not supported; write lists/maps as one-line JSON)`,
      );
    }
    const value = parseScalar(m[2]!, where);
    if (field === 'value') {
      current!.value = value;
      current!.hasValue = true;
    } else if (field === 'constraints') {
      current!.constraints = value;
    } else {
      throw new Error(`${where}: unknown field '${field}' (expected value or constraints)`);
    }
  });
  flush();
  return entries;
}

export function readDynamicConfig(file = DYNAMIC_CONFIG_FILE): DynamicConfigEntry[] {
  return parseDynamicConfig(fs.readFileSync(file, 'utf8'), path.basename(file));
}

/** `--dynamic-config-value key=<JSON>` pairs for `temporal server start-dev`. */
export function dynamicConfigFlags(entries: DynamicConfigEntry[]): string[] {
  return entries.flatMap((e) => ['--dynamic-config-value', `${e.key}=${JSON.stringify(e.value)}`]);
}
