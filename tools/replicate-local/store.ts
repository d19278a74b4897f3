import type { DataDir } from './data-dir';
import { fromRecord, toRecord } from './job-record';
import { isTerminal, type Job, type JobKind } from './jobs';

export interface StoredFile {
  contentType: string;
  data: Buffer;
}

/** How long finished job records are kept in a data folder (their outputs go earlier, see output_retention_ms). */
const JOB_RECORD_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface JobStoreOptions {
  /** Current output retention (read on every check, so knob changes apply at once). */
  outputRetentionMs: () => number;
  /** Keep jobs and files on disk there; without it everything lives in memory for the life of the process. */
  dataDir?: DataDir | undefined;
}

/** Jobs and their output files, with Replicate-like expiry of prediction outputs; in memory or in a data folder. */
export class JobStore {
  private readonly jobs = new Map<string, Job>();
  /** Output files when there is no data folder. */
  private readonly memoryFiles = new Map<string, Buffer>();
  private readonly dataDir: DataDir | undefined;
  private lastSeq = 0;
  private closed = false;

  constructor(private readonly options: JobStoreOptions) {
    this.dataDir = options.dataDir;
  }

  /**
   * Loads the jobs of the data folder (dropping records past JOB_RECORD_RETENTION_MS) and returns them
   * oldest first, so the caller can resume those still running and resend undelivered webhooks.
   */
  load(): Job[] {
    if (!this.dataDir) return [];
    const jobs = this.dataDir
      .readJobRecords()
      .map(fromRecord)
      .filter((job) => job !== undefined)
      .sort((a, b) => a.seq - b.seq);
    for (const job of jobs) {
      this.jobs.set(job.id, job);
      this.lastSeq = Math.max(this.lastSeq, job.seq);
    }
    this.sweep();
    return [...this.jobs.values()];
  }

  /** Registers a new job (giving it the next `seq`) and stores it. */
  add(job: Job): void {
    job.seq = ++this.lastSeq;
    this.jobs.set(job.id, job);
    this.save(job);
  }

  /** Writes the job's current state to the data folder (no-op in memory, and once the store is closed). */
  save(job: Job): void {
    if (this.dataDir && !this.closed) this.dataDir.writeJobRecord(job.id, toRecord(job));
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
    const jobs = [...this.jobs.values()].filter((job) => job.kind === kind).sort((a, b) => b.seq - a.seq);
    jobs.forEach((job) => this.expireOutputs(job));
    return jobs;
  }

  /** Stores a file produced by `job` under "<job id>/<name>" and returns that key. */
  putFile(job: Job, name: string, file: StoredFile): string {
    const key = `${job.id}/${name}`;
    if (this.dataDir) this.dataDir.writeFile(key, file.data);
    else this.memoryFiles.set(key, file.data);
    job.files = [...job.files.filter((ref) => ref.key !== key), { key, contentType: file.contentType }];
    return key;
  }

  /** A stored file, unless its prediction's outputs have expired. */
  file(key: string): StoredFile | undefined {
    const owner = this.jobs.get(key.split('/')[0] ?? '');
    if (!owner) return undefined;
    this.expireOutputs(owner);
    const ref = owner.files.find((candidate) => candidate.key === key);
    const data = ref && (this.dataDir ? this.dataDir.readFile(key) : this.memoryFiles.get(key));
    return ref && data ? { contentType: ref.contentType, data } : undefined;
  }

  /** Stops every job's timers and downloads and every further write (server shutdown). */
  close(): void {
    this.closed = true;
    for (const job of this.jobs.values()) job.control.stop();
  }

  /** Removes expired prediction outputs everywhere, and old job records from the data folder (run periodically). */
  sweep(): void {
    if (this.closed) return;
    for (const job of this.jobs.values()) {
      this.expireOutputs(job);
      if (this.dataDir && isPastRetention(job)) {
        this.jobs.delete(job.id);
        this.dataDir.deleteJob(job.id);
      }
    }
  }

  /** Like Replicate, prediction outputs are deleted `retention` after completion: output null, data_removed true. */
  private expireOutputs(job: Job): void {
    if (this.closed || job.kind !== 'prediction' || job.dataRemoved || !job.completedAt) return;
    if (Date.now() - job.completedAt.getTime() < this.options.outputRetentionMs()) return;
    for (const { key } of job.files) {
      if (this.dataDir) this.dataDir.deleteFile(key);
      else this.memoryFiles.delete(key);
    }
    job.files = [];
    job.output = null;
    job.dataRemoved = true;
    this.save(job);
  }
}

function isPastRetention(job: Job): boolean {
  return isTerminal(job) && !job.pendingWebhook && Date.now() - (job.completedAt?.getTime() ?? 0) > JOB_RECORD_RETENTION_MS;
}
