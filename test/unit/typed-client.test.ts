import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.join(__dirname, '..', '..');
const SCHEMA_FILE = path.join(ROOT, 'clients', 'typescript', 'schema.d.ts');

/** What `npm run client:generate` would write now (scripts/generate-client.ts builds the served document in-process). */
async function generated(): Promise<string> {
  const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/generate-client.ts', '--stdout'], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

describe('the typed client (clients/typescript)', () => {
  it('when the types are generated again from the OpenAPI document the API serves, then they equal the committed schema.d.ts', async () => {
    const fresh = await generated();
    // Every operation of the document is in it (a sample: the key budget's PATCH and the job submission).
    expect(fresh).toContain('updateApiKey: {');
    expect(fresh).toContain('submitJob: {');
    if (readFileSync(SCHEMA_FILE, 'utf8') !== fresh) {
      throw new Error('clients/typescript/schema.d.ts is not the document the API serves: run `npm run client:generate` and commit the file');
    }
  }, 120_000);
});
