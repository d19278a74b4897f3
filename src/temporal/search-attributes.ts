import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes on every workflow, so an operator can filter in the Temporal
 * UI (`UserId = "..." AND JobStatus = "running"`). Registered from
 * temporal-config/search-attributes.json. Pure: workflows import it too.
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
