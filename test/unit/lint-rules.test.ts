import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Lints each snippet as if it were the file at its path (relative to the repo), with the
 * project's own config, in one ESLint process (the config is ESM, which Jest's sandbox cannot
 * load). Returns each snippet's problems as "rule: message".
 */
function lint(snippets: Array<{ file: string; code: string }>): string[][] {
  const script = `
    import { ESLint } from 'eslint';
    const eslint = new ESLint({ cwd: process.cwd() });
    const out = [];
    for (const { file, code } of JSON.parse(process.env.SNIPPETS)) {
      const [result] = await eslint.lintText(code, { filePath: file });
      out.push(result.messages.map((m) => m.ruleId + ': ' + m.message));
    }
    console.log(JSON.stringify(out));`;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    env: { ...process.env, SNIPPETS: JSON.stringify(snippets.map((s) => ({ ...s, file: path.join(ROOT, s.file) }))) },
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as string[][];
}

const WORKFLOW = 'workflows/generation-job.ts';

/** The rules hold where the compiler cannot: these snippets are what they exist to catch. */
describe('when code breaks the rules the linter holds', () => {
  const cases = [
    { name: 'a Node built-in in workflow code', file: WORKFLOW, code: "import fs from 'node:fs';\nexport const x = fs;\n", rule: 'no-restricted-imports' },
    { name: 'a value import of activity code in a workflow', file: WORKFLOW, code: "import { createActivities } from '../activities';\nexport const x = createActivities;\n", rule: 'no-restricted-imports' },
    { name: 'a value import from src/ outside the pure shared modules', file: WORKFLOW, code: "import { loadConfig } from '../src/config';\nexport const x = loadConfig;\n", rule: 'no-restricted-imports' },
    { name: 'an I/O library in workflow code', file: WORKFLOW, code: "import sharp from 'sharp';\nexport const x = sharp;\n", rule: 'no-restricted-imports' },
    { name: 'a floating promise anywhere', file: 'src/jobs/service.ts', code: 'async function work(): Promise<void> {}\nexport function run(): void {\n  work();\n}\n', rule: '@typescript-eslint/no-floating-promises' },
    { name: 'a floating promise in a workflow', file: WORKFLOW, code: "import { sleep } from '@temporalio/workflow';\nexport async function wf(): Promise<void> {\n  sleep(1);\n}\n", rule: '@typescript-eslint/no-floating-promises' },
  ];
  const allowed = [
    { name: 'a type import of activities', file: WORKFLOW, code: "import type { Activities } from '../activities';\nexport type X = Activities;\n" },
    { name: 'the shared error codes', file: WORKFLOW, code: "import { ErrorCode } from '../src/error-codes';\nexport const x = ErrorCode;\n" },
  ];
  let results: string[][];
  beforeAll(() => {
    results = lint([...cases, ...allowed]);
  }, 180_000);

  it.each(cases.map((c, i) => [c.name, c.rule, i] as const))('then %s is reported (%s)', (_name, rule, i) => {
    expect(results[i]).toEqual([expect.stringContaining(rule)]);
  });

  it.each(allowed.map((c, i) => [c.name, cases.length + i] as const))('then %s is allowed', (_name, i) => {
    expect(results[i]).toEqual([]);
  });
});
