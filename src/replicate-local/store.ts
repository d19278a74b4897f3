import type { Job, JobKind } from './jobs';

export interface StoredFile {
  contentType: string;
  data: Buffer;
}

/** In-memory jobs and their output files, with Replicate-like expiry of prediction outputs. */
export class JobStore {
  private readonly jobs = new Map<string, Job>();
  private readonly files = new Map<string, StoredFile>();

  /** @param retentionMs current output retention (read on every check, so knob changes apply at once). */
  constructor(private readonly retentionMs: () => number) {}

  add(job: Job): void {
    this.jobs.set(job.id, job);
  }

  /** The job of that kind, with expired outputs already removed. */
  get(id: string, kind: JobKind): Job | undefined {
    const job = this.jobs.get(id);
    if (job?.kind !== kind) return undefined;
    this.expireOutputs(job);
    return job;
  }

  /** Jobs of a kind, newest first. */
  list(kind: JobKind): Job[] {
    const jobs = [...this.jobs.values()].filter((job) => job.kind === kind).reverse();
    jobs.forEach((job) => this.expireOutputs(job));
    return jobs;
  }

  /** Stores a file produced by `job` under "<job id>/<name>" and returns that key. */
  putFile(job: Job, name: string, file: StoredFile): string {
    const key = `${job.id}/${name}`;
    this.files.set(key, file);
    job.fileKeys.push(key);
    return key;
  }

  /** A stored file, unless its prediction's outputs have expired. */
  file(key: string): StoredFile | undefined {
    const owner = this.jobs.get(key.split('/')[0] ?? '');
    if (owner) this.expireOutputs(owner);
    return this.files.get(key);
  }

  /** Stops every job's timers and downloads (server shutdown). */
  stopAll(): void {
    for (const job of this.jobs.values()) job.control.stop();
  }

  /** Removes expired prediction outputs everywhere (run periodically to free memory). */
  sweep(): void {
    for (const job of this.jobs.values()) this.expireOutputs(job);
  }

  /** Like Replicate, prediction outputs are deleted `retention` after completion: output null, data_removed true. */
  private expireOutputs(job: Job): void {
    if (job.kind !== 'prediction' || job.dataRemoved || !job.completedAt) return;
    if (Date.now() - job.completedAt.getTime() < this.retentionMs()) return;
    for (const key of job.fileKeys) this.files.delete(key);
    job.fileKeys = [];
    job.output = null;
    job.dataRemoved = true;
  }
}
