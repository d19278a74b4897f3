import { creditsReserved } from '../credits/usage';
import { presignedGet } from '../storage/presign-cache';
import type { Storage } from '../storage/s3';
import { providerInput } from './model-input';
import type { JobWithOutputs } from './rows';
import { iso } from '../shared/dates';

/**
 * The public shape of a job; output URLs are time-limited presigned URLs of our bucket, reused
 * while at least half their lifetime is left (src/storage/presign-cache.ts).
 */
export async function jobView(storage: Storage, job: JobWithOutputs) {
  return {
    job_id: job.id,
    status: job.status,
    model: job.model,
    prompt: job.prompt,
    num_outputs: job.numOutputs,
    seed: job.seed,
    output_format: job.outputFormat,
    input_file: job.inputUploadId,
    parameters: job.parameters,
    credits_spent: job.creditsSpent,
    credits_reserved: creditsReserved(job),
    retry_count: job.retryCount,
    error: job.errorCode ? { code: job.errorCode, message: job.errorMessage ?? '' } : null,
    created_at: job.createdAt.toISOString(),
    started_at: iso(job.startedAt),
    completed_at: iso(job.completedAt),
    deadline: iso(job.deadlineAt),
    outputs: await Promise.all(
      job.outputs.map(async (o) => ({
        index: o.index,
        // A deleted output (expired, or DELETE /jobs/{id}/outputs) keeps its metadata, not its file.
        url: o.deletedAt ? null : await presignedGet(storage, o.s3Key),
        content_type: o.contentType,
        size_bytes: Number(o.sizeBytes),
        ...(o.width === null ? {} : { width: o.width }),
        ...(o.height === null ? {} : { height: o.height }),
        sha256: o.sha256,
        expires_at: iso(o.expiresAt),
        deleted_at: iso(o.deletedAt),
      })),
    ),
  };
}

const between = (a: Date | null, b: Date | null) => (a && b ? b.getTime() - a.getTime() : null);

export function jobMetadata(job: JobWithOutputs) {
  const metrics = (job.providerMetrics ?? {}) as Record<string, unknown>;
  return {
    job_id: job.id,
    model: job.model,
    model_version: job.modelVersion,
    provider: 'replicate',
    provider_prediction_id: job.providerPredictionId,
    workflow_id: job.workflowId,
    request_id: job.requestId,
    parameters: job.parameters,
    provider_input: providerInput(job),
    input_file: job.inputUploadId,
    price: job.priceUnit ? { credits: job.priceCredits, per: job.priceUnit } : null,
    retry_count: job.retryCount,
    timings: {
      created_at: job.createdAt.toISOString(),
      started_at: iso(job.startedAt),
      provider_completed_at: iso(job.providerCompletedAt),
      completed_at: iso(job.completedAt),
      queued_ms: between(job.createdAt, job.startedAt),
      total_ms: between(job.createdAt, job.completedAt),
      predict_time_s: typeof metrics.predict_time === 'number' ? metrics.predict_time : null,
    },
  };
}
