import { setTimeout as sleep } from 'node:timers/promises';

export type JobKind = 'prediction' | 'training';
export type JobStatus = 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
export type TerminalStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;
export const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** Cancellation and completion signalling of a running job (not part of its JSON). */
export class JobControl {
  private readonly abortController = new AbortController();
  private resolveSettled: () => void = () => undefined;
  /** Resolves when the job reaches a terminal status. */
  readonly settled = new Promise<void>((resolve) => {
    this.resolveSettled = resolve;
  });

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  /** Sleeps until `epochMs` (rejects with an AbortError once the job is stopped). */
  async sleepUntil(epochMs: number): Promise<void> {
    await sleep(Math.max(0, epochMs - Date.now()), undefined, { signal: this.signal });
  }

  /** Marks the job settled and aborts whatever it is still doing. */
  stop(): void {
    this.resolveSettled();
    this.abortController.abort();
  }
}

/** A prediction or training: the fields of its API object plus runtime control. */
export interface Job {
  kind: JobKind;
  id: string;
  /** "owner/name" of the model that runs the job. */
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: JobStatus;
  logs: string;
  output: unknown;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  dataRemoved: boolean;
  webhook?: string;
  webhookEventsFilter?: WebhookEvent[];
  /** Keys in the file store of the files this job produced. */
  fileKeys: string[];
  control: JobControl;
}

export interface NewJob {
  kind: JobKind;
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  webhook?: string;
  webhookEventsFilter?: WebhookEvent[];
}

export function newJob(fields: NewJob): Job {
  return {
    ...fields,
    status: 'starting',
    logs: '',
    output: null,
    error: null,
    createdAt: new Date(),
    startedAt: null,
    completedAt: null,
    dataRemoved: false,
    fileKeys: [],
    control: new JobControl(),
  };
}

export function isTerminal(job: Job): boolean {
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'canceled';
}
