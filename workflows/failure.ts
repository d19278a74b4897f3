import { ActivityFailure, ApplicationFailure, TemporalFailure } from '@temporalio/workflow';
import { ErrorCode } from '../src/error-codes';

/** The stable code and message of whatever failed, for the database row and the API. */
export function describeFailure(err: unknown): { code: string; message: string } {
  const root = err instanceof ActivityFailure && err.cause ? err.cause : err;
  if (root instanceof ApplicationFailure) {
    return { code: root.type ?? ErrorCode.internal, message: root.message };
  }
  if (root instanceof TemporalFailure) return { code: ErrorCode.internal, message: root.message };
  return { code: ErrorCode.internal, message: err instanceof Error ? err.message : String(err) };
}
