import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from './logger';

const TMP_SUFFIX = '.tmp';
const WEBHOOK_SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]+={0,2}$/;

/**
 * The on-disk state of a server started with `dataDir`:
 *
 *   <dataDir>/webhook-secret        the signing secret, generated once
 *   <dataDir>/models.json           models and versions created through the API or by trainings
 *   <dataDir>/jobs/<id>.json        one record per prediction or training
 *   <dataDir>/files/<id>/<name>     output files
 *
 * Every write goes to a temporary file that is then renamed over the target, so a killed process
 * leaves either the old or the new content, never a torn file. Writes are synchronous: they are
 * small (a job record) or few (outputs), and this keeps them in the order the state changed.
 * One server process per folder.
 */
export class DataDir {
  private readonly jobsDir: string;
  private readonly filesDir: string;
  private tmpCounter = 0;

  constructor(
    readonly root: string,
    private readonly logger: Logger,
  ) {
    this.jobsDir = path.join(root, 'jobs');
    this.filesDir = path.join(root, 'files');
    mkdirSync(this.jobsDir, { recursive: true });
    mkdirSync(this.filesDir, { recursive: true });
  }

  /**
   * The stored webhook secret, or `generate()`d and stored on first use. A damaged file is an error rather
   * than silently replaced, since whoever verifies the webhooks has the old secret configured.
   */
  webhookSecret(generate: () => string): string {
    const file = path.join(this.root, 'webhook-secret');
    if (existsSync(file)) {
      const stored = readFileSync(file, 'utf8').trim();
      if (!WEBHOOK_SECRET_FORMAT.test(stored)) throw new Error(`${file} does not hold a "whsec_<base64>" secret; fix or delete it`);
      return stored;
    }
    const secret = generate();
    this.writeAtomic(file, `${secret}\n`);
    return secret;
  }

  readModels(): unknown {
    return this.readJson(path.join(this.root, 'models.json'));
  }

  writeModels(snapshot: unknown): void {
    this.writeAtomic(path.join(this.root, 'models.json'), JSON.stringify(snapshot));
  }

  /** Every readable job record (unreadable ones are logged and skipped; leftover temporary files removed). */
  readJobRecords(): unknown[] {
    const records: unknown[] = [];
    for (const name of readdirSync(this.jobsDir)) {
      const file = path.join(this.jobsDir, name);
      if (name.endsWith(TMP_SUFFIX)) unlinkSync(file);
      else if (name.endsWith('.json')) records.push(this.readJson(file));
    }
    return records.filter((record) => record !== undefined);
  }

  writeJobRecord(id: string, record: unknown): void {
    this.writeAtomic(path.join(this.jobsDir, `${id}.json`), JSON.stringify(record));
  }

  /** Removes a job's record and all its files. */
  deleteJob(id: string): void {
    rmSync(path.join(this.filesDir, id), { recursive: true, force: true });
    rmSync(path.join(this.jobsDir, `${id}.json`), { force: true });
  }

  writeFile(key: string, data: Buffer): void {
    const file = this.filePath(key);
    mkdirSync(path.dirname(file), { recursive: true });
    this.writeAtomic(file, data);
  }

  /** The file's bytes, or undefined if it is gone. */
  readFile(key: string): Buffer | undefined {
    try {
      return readFileSync(this.filePath(key));
    } catch {
      return undefined;
    }
  }

  deleteFile(key: string): void {
    rmSync(this.filePath(key), { force: true });
  }

  /** Keys are "<job id>/<name>" made by the server; anything reaching outside the files folder is refused. */
  private filePath(key: string): string {
    const file = path.resolve(this.filesDir, key);
    if (!file.startsWith(`${this.filesDir}${path.sep}`)) throw new Error(`Invalid file key: ${key}`);
    return file;
  }

  private writeAtomic(file: string, data: string | Buffer): void {
    const tmp = `${file}.${process.pid}.${++this.tmpCounter}${TMP_SUFFIX}`;
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  }

  private readJson(file: string): unknown {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.logger.warn({ file, err: String(err) }, 'skipping unreadable state file');
      return undefined;
    }
  }
}
