import { z } from 'zod';
import { JobControl, WEBHOOK_EVENTS, type Job } from './jobs';

/** A job as stored on disk: every field of the Job except its runtime control, dates as ISO strings. */
const jobRecord = z.object({
  kind: z.enum(['prediction', 'training']),
  id: z.string().regex(/^[a-z0-9]+$/),
  seq: z.int().min(1),
  model: z.string(),
  version: z.string(),
  input: z.record(z.string(), z.unknown()),
  status: z.enum(['starting', 'processing', 'succeeded', 'failed', 'canceled']),
  logs: z.string(),
  output: z.unknown(),
  error: z.string().nullable(),
  createdAt: z.coerce.date(),
  startedAt: z.coerce.date().nullable(),
  completedAt: z.coerce.date().nullable(),
  dataRemoved: z.boolean(),
  webhook: z.string().optional(),
  webhookEventsFilter: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
  plan: z.object({ latencyMs: z.int().min(0), error: z.string().optional(), seed: z.int() }),
  destination: z.string().optional(),
  files: z.array(z.object({ key: z.string(), contentType: z.string() })),
  pendingWebhook: z.object({ messageId: z.string(), url: z.string(), body: z.string() }).optional(),
});

/** The JSON-able record of a job. */
export function toRecord(job: Job): Omit<Job, 'control'> {
  const { control: _control, ...record } = job;
  return record;
}

/** A Job rebuilt from a stored record (with fresh runtime control), or undefined if the record is malformed. */
export function fromRecord(raw: unknown): Job | undefined {
  const parsed = jobRecord.safeParse(raw);
  if (!parsed.success) return undefined;
  return { ...parsed.data, output: parsed.data.output ?? null, control: new JobControl() };
}
