import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes on every workflow, so an operator can filter in the Temporal
 * UI (`UserId = "..." AND JobKind = "generation" AND ExecutionStatus = "Running"`). Registered
 * from temporal-config/search-attributes.json. Pure: workflows import it too.
 *
 * `JobStatus` moves with trainings. Generation jobs and prompts have none: their workflow's own
 * ExecutionStatus says the same (Running; Completed is succeeded; Failed, Canceled), and each
 * upsert is a step the engine records and Temporal Cloud bills, on the paths that run most.
 */
export const SA = {
  userId: defineSearchAttributeKey('UserId', SearchAttributeType.KEYWORD),
  jobKind: defineSearchAttributeKey('JobKind', SearchAttributeType.KEYWORD),
  modelName: defineSearchAttributeKey('ModelName', SearchAttributeType.KEYWORD),
  versionId: defineSearchAttributeKey('VersionId', SearchAttributeType.KEYWORD),
  paymentId: defineSearchAttributeKey('PaymentId', SearchAttributeType.KEYWORD),
  jobStatus: defineSearchAttributeKey('JobStatus', SearchAttributeType.KEYWORD),
  requestId: defineSearchAttributeKey('RequestId', SearchAttributeType.KEYWORD),
};

export type JobKind = 'generation' | 'training' | 'prompt';

/** The search attributes every workflow starts with; a training's `JobStatus` then moves with the work. */
export function startAttributes(a: { userId: string; kind: JobKind; requestId?: string | null; modelName?: string; versionId?: string; paymentId?: string }) {
  return [
    { key: SA.userId, value: a.userId },
    { key: SA.jobKind, value: a.kind },
    ...(a.kind === 'training' ? [{ key: SA.jobStatus, value: 'queued' }] : []),
    ...(a.modelName ? [{ key: SA.modelName, value: a.modelName }] : []),
    ...(a.versionId ? [{ key: SA.versionId, value: a.versionId }] : []),
    ...(a.paymentId ? [{ key: SA.paymentId, value: a.paymentId }] : []),
    ...(a.requestId ? [{ key: SA.requestId, value: a.requestId }] : []),
  ];
}
