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

/** How a job will run, fixed when it is created so a job resumed after a restart runs the same way. */
export interface JobPlan {
  /** Total time from create to completion. */
  latencyMs: number;
  /** The error it will fail with, if any. */
  error?: string | undefined;
  /** Seed for models whose input has none (decided once, so a rerun produces the same outputs). */
  seed: number;
}

/** An output file of a job: its key in the file store ("<job id>/<name>") and content type. */
export interface OutputFileRef {
  key: string;
  contentType: string;
}

/** A terminal webhook that has not been delivered yet (kept so it can be retried after a restart). */
export interface PendingWebhook {
  messageId: string;
  url: string;
  body: string;
}

/** A prediction or training: the fields of its API object plus what it needs to run, and runtime control. */
export interface Job {
  kind: JobKind;
  id: string;
  /** Creation order in the store: lists sort on it and cursors point at it. */
  seq: number;
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
  plan: JobPlan;
  /** Trainings: the "owner/name" model that receives the trained version. */
  destination?: string;
  /** The files this job produced. */
  files: OutputFileRef[];
  pendingWebhook?: PendingWebhook;
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
  plan: JobPlan;
  destination?: string;
}

/** A new job in status "starting"; its `seq` is assigned when the store adds it. */
export function newJob(fields: NewJob): Job {
  return {
    ...fields,
    seq: 0,
    status: 'starting',
    logs: '',
    output: null,
    error: null,
    createdAt: new Date(),
    startedAt: null,
    completedAt: null,
    dataRemoved: false,
    files: [],
    control: new JobControl(),
  };
}

export function isTerminal(job: Job): boolean {
  return job.status === 'succeeded' || job.status === 'failed' || job.status === 'canceled';
}
