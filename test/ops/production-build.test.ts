import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/** What only `npm start`, the tests and the bench use: none of it may reach the production build. */
const NOT_IN_PRODUCTION = ['tools/', 'test/', 'scripts/'];

describe('when the production build is compiled', () => {
  it('then it holds only what production runs: no local stack, local provider, test helpers or bench', () => {
    // --listFilesOnly follows imports: a production module importing a development one pulls it in.
    const listed = execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json', '--listFilesOnly'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f && !f.includes('/node_modules/'))
      .map((f) => path.relative(ROOT, f));
    expect(listed).toEqual(expect.arrayContaining(['src/server.ts', 'src/worker.ts', 'workflows/index.ts', 'activities/index.ts']));
    expect(listed.filter((f) => NOT_IN_PRODUCTION.some((p) => f.startsWith(p)))).toEqual([]);
  }, 120_000);
});
