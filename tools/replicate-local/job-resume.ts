import type { ServerContext } from './context';
import { errorMessage } from './fetch-input';
import { finish, sendPendingWebhook } from './job-lifecycle';
import { isTerminal, type Job } from './jobs';
import { resumePrediction } from './predictions';
import { resumeTraining } from './trainings';

/**
 * Picks up the jobs loaded from the data folder after a restart: finished ones resend their owed
 * terminal webhook, running ones continue. A running job's model runs again from the start (same
 * seed and schedule, so the same outputs), rewriting its logs as it goes; one that can no longer
 * run (its model version or training destination is gone) fails with the reason.
 */
export function resumeJobs(ctx: ServerContext, jobs: Job[]): void {
  for (const job of jobs) {
    if (isTerminal(job)) {
      sendPendingWebhook(ctx, job);
      continue;
    }
    job.logs = '';
    ctx.logger.info({ id: job.id, kind: job.kind, status: job.status }, `${job.kind} resumed after a restart`);
    try {
      if (job.kind === 'prediction') resumePrediction(ctx, job);
      else resumeTraining(ctx, job);
    } catch (err) {
      finish(ctx, job, 'failed', `Could not resume after a server restart: ${errorMessage(err)}`);
    }
  }
}
