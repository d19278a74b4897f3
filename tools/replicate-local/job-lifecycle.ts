import type { ServerContext } from './context';
import { errorMessage } from './fetch-input';
import { isTerminal, type Job, type TerminalStatus, type WebhookEvent } from './jobs';
import { serializeJob } from './serialize';
import { newMessageId } from './webhooks';
import type { Stats } from './stats';
import type { StoredFile } from './store';

/**
 * Sends the job's webhook for `event` if it has one and the event passes its filter. The terminal
 * ("completed") one is recorded on the job until it is delivered or given up, so a restart resends it.
 */
export function emit(ctx: ServerContext, job: Job, event: WebhookEvent): void {
  if (!job.webhook || (job.webhookEventsFilter && !job.webhookEventsFilter.includes(event))) return;
  const body = JSON.stringify(serializeJob(ctx, job));
  if (event !== 'completed') {
    void ctx.webhooks.send({ jobId: job.id, url: job.webhook, body, terminal: false });
    return;
  }
  job.pendingWebhook = { messageId: newMessageId(), url: job.webhook, body };
  ctx.store.save(job);
  sendPendingWebhook(ctx, job);
}

/** Sends the job's owed terminal webhook: when it completes, and again (same id and body) after a restart if it was not delivered. */
export function sendPendingWebhook(ctx: ServerContext, job: Job): void {
  const pending = job.pendingWebhook;
  if (!pending) return;
  const message = { jobId: job.id, url: pending.url, body: pending.body, messageId: pending.messageId, terminal: true };
  void ctx.webhooks.send(message).then((outcome) => {
    if (outcome === 'abandoned' || job.pendingWebhook !== pending) return;
    delete job.pendingWebhook;
    ctx.store.save(job);
  });
}

/** starting → processing (a job resumed after a restart may already be processing: it keeps its started_at). */
export function markProcessing(ctx: ServerContext, job: Job): void {
  if (job.status !== 'starting') return;
  job.status = 'processing';
  job.startedAt = new Date();
  ctx.store.save(job);
  ctx.logger.info({ id: job.id, kind: job.kind, model: job.model }, `${job.kind} processing`);
}

/** Appends a log line (ignored once the job is terminal, e.g. canceled mid-run). */
export function appendLog(ctx: ServerContext, job: Job, line: string): void {
  if (isTerminal(job)) return;
  job.logs += `${line}\n`;
  ctx.store.save(job);
  emit(ctx, job, 'logs');
}

/** Stores an output file of the job and returns its public URL. */
export function publishFile(ctx: ServerContext, job: Job, name: string, file: StoredFile): string {
  return `${ctx.publicBaseUrl}/files/${ctx.store.putFile(job, name, file)}`;
}

export function setOutput(ctx: ServerContext, job: Job, output: unknown): void {
  job.output = output;
  ctx.store.save(job);
  emit(ctx, job, 'output');
}

/** Moves a running job to a terminal status (no-op if it already is terminal). */
export function finish(ctx: ServerContext, job: Job, status: TerminalStatus, error: string | null = null): void {
  if (isTerminal(job)) return;
  job.status = status;
  job.error = error;
  job.completedAt = new Date();
  job.control.stop();
  ctx.store.save(job);
  const counter: keyof Stats = `${job.kind}s_${status}`;
  ctx.stats[counter]++;
  ctx.logger.info({ id: job.id, kind: job.kind, model: job.model, status, error }, `${job.kind} ${status}`);
  emit(ctx, job, 'completed');
}

export function cancel(ctx: ServerContext, job: Job): void {
  finish(ctx, job, 'canceled');
}

/** Runs a job's async work; an error fails the job with its message, and cancellation (abort) just ends it. */
export function runJob(ctx: ServerContext, job: Job, work: () => Promise<void>): void {
  work().catch((err: unknown) => {
    if (!job.control.signal.aborted) finish(ctx, job, 'failed', errorMessage(err));
  });
}
