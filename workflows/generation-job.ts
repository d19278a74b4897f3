import { ApplicationFailure, CancellationScope, isCancellation, patched } from '@temporalio/workflow';
import { deadlineOf, type Deadline } from './deadline';
import { ErrorCode } from '../src/error-codes';
import { describeFailure } from './failure';
import { copyOutputs, predictionRunner, runAndStore, setStatus, workflowActivities, type WorkflowActivities } from './prediction-run';
import { trackPredictions } from './prediction-wait';

export interface GenerationJobInput {
  jobId: string;
  /** "owner/name" or "owner/name:version". */
  model: string;
  /** The provider input, exactly as the model receives it, less the input file. */
  input: Record<string, unknown>;
  /** The caller's upload, handed to the model as a presigned URL in its file field. */
  inputFile: { uploadId: string; field: string } | null;
  /** Where the provider posts completion; null relies on polling alone. */
  webhookUrl: string | null;
  pollIntervalMs: number;
  timeoutMs: number;
  /** When the job must be final (epoch ms; Cancel-After or `deadline`); absent: no deadline. */
  deadlineMs?: number;
}

export interface GenerationJobResult {
  predictionId: string;
  outputs: number;
}

/**
 * A generic "run a Replicate model" job: create the prediction, wait for it (webhook
 * signal, polling fallback), copy every output into our bucket, record them. Failure records
 * the error; cancellation also cancels the provider prediction. Recording the outcome settles
 * the credits reserved when the job was accepted: success commits what the stored outputs cost
 * and releases the rest, failure and cancel release it all.
 *
 * Every step the engine records is work someone pays for (Temporal Cloud bills each activity,
 * timer, signal, search-attribute upsert and workflow task with markers), so a job takes as few
 * as its guarantees allow: see runAndStore. Its state is the workflow's own status in the Temporal
 * UI (no JobStatus upserts).
 *
 * Versioned by workflow type, so a new run records no patch marker (one action less): the API
 * starts this type; runs of `generationJob` started before it replay on their own code.
 */
export async function generationJobV2(job: GenerationJobInput): Promise<GenerationJobResult> {
  const acts = workflowActivities();
  // Created before the first await, so no early webhook signal is missed.
  const predictions = trackPredictions({ kind: 'prediction', cancel: acts.calls.cancelStrayRun }, true);
  const deadline = deadlineOf(job.deadlineMs, () => true);
  let predictionId: string | undefined;
  try {
    return await deadline.scope.run(async () => {
      // The URL is made now, not when the job was accepted, so it is fresh when the provider fetches it.
      const input = job.inputFile ? { ...job.input, [job.inputFile.field]: await acts.db.presignUpload({ uploadId: job.inputFile.uploadId }) } : job.input;
      const run = { ...job, input, owner: { job: job.jobId }, keyPrefix: `jobs/${job.jobId}`, maxOutputs: requestedOutputs(job) };
      const outputsOwner = { job: { jobId: job.jobId, metrics: null, providerCompletedAt: null } };
      return await runAndStore(acts, predictions, deadline, { ...run, outputsOwner }, (id) => (predictionId = id));
    });
  } catch (err) {
    return endUnfinished(err, job, acts, deadline, predictionId, () => undefined);
  }
}

/**
 * The job's workflow type before `generationJobV2`, kept until no run of it is left (the longest
 * a job can run: its timeout). Runs that took the `lean-generation-job` patch ran what is now
 * generationJobV2, behind a marker; the runs before it (three activities more, one per output,
 * two upserts) replay on `generationJobBefore20261207`. Nothing starts it any more.
 */
export async function generationJob(job: GenerationJobInput): Promise<GenerationJobResult> {
  if (patched('lean-generation-job')) return generationJobV2(job);
  return generationJobBefore20261207(job);
}

/**
 * A job that did not succeed: a cancellation (DELETE, or its deadline) cancels the provider's
 * run and records the job canceled (or ended at its deadline); anything else records the
 * failure. Either way the reservation is released (in the activity that records it).
 */
async function endUnfinished(
  err: unknown,
  job: GenerationJobInput,
  acts: WorkflowActivities,
  deadline: Deadline,
  predictionId: string | undefined,
  setStatus: (status: string) => void,
): Promise<never> {
  if (isCancellation(err)) {
    await CancellationScope.nonCancellable(async () => {
      if (predictionId) await acts.calls.cancelPrediction(predictionId).catch(() => undefined);
      if (deadline.expired) setStatus(await acts.db.endJobAtDeadline({ jobId: job.jobId }));
      else {
        await acts.db.cancelJob({ jobId: job.jobId });
        setStatus('canceled');
      }
    });
    if (deadline.expired) throw ApplicationFailure.nonRetryable('The job was not final by its deadline', ErrorCode.deadlineExceeded);
    throw err;
  }
  const failure = describeFailure(err);
  await CancellationScope.nonCancellable(() => acts.db.failJob({ jobId: job.jobId, ...failure }));
  setStatus('failed');
  throw ApplicationFailure.nonRetryable(failure.message, failure.code);
}

/** The job as it ran before `lean-generation-job`: kept until no job started before it is running. */
async function generationJobBefore20261207(job: GenerationJobInput): Promise<GenerationJobResult> {
  const acts = workflowActivities();
  const runPrediction = predictionRunner(acts);
  let predictionId: string | undefined;
  const deadline = deadlineOf(job.deadlineMs, () => patched('job-deadline'));

  try {
    return await deadline.scope.run(() => runJob(job, acts, runPrediction, deadline, (id) => (predictionId = id)));
  } catch (err) {
    return endUnfinished(err, job, acts, deadline, predictionId, setStatus);
  }
}

async function runJob(
  job: GenerationJobInput,
  acts: WorkflowActivities,
  runPrediction: ReturnType<typeof predictionRunner>,
  deadline: Deadline,
  onPrediction: (id: string) => void,
): Promise<GenerationJobResult> {
  // The URL is made now, not when the job was accepted, so it is fresh when the provider fetches it.
  const input = job.inputFile ? { ...job.input, [job.inputFile.field]: await acts.db.presignUpload({ uploadId: job.inputFile.uploadId }) } : job.input;
  const done = await runPrediction({ ...job, input }, async (created) => {
    onPrediction(created.id);
    setStatus('running');
    await acts.db.markJobRunning({ jobId: job.jobId, predictionId: created.id, modelVersion: created.version, retryCount: created.attempts - 1 });
  });
  deadline.providerDone = true;
  const outputs = await copyOutputs(acts, `jobs/${job.jobId}`, done, patched('cap-outputs-at-requested') ? requestedOutputs(job) : Infinity);
  await acts.db.completeJob({ jobId: job.jobId, outputs, metrics: done.metrics, providerCompletedAt: done.completedAt });
  setStatus('succeeded');
  return { predictionId: done.id, outputs: outputs.length };
}

/**
 * A job stores (and is charged for) at most the outputs it asked for, whatever the model
 * returns: image models say how many in `num_outputs`, other kinds make one.
 */
function requestedOutputs(job: GenerationJobInput): number {
  const asked = job.input.num_outputs;
  return typeof asked === 'number' && asked > 0 ? asked : 1;
}
