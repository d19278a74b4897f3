import { defaultPayloadConverter } from '@temporalio/common';
import { workflowInfo, type WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { REQUEST_ID_HEADER } from '../src/temporal/request-id-header';

/** The HTTP request id the API put in the memo, if any. */
function requestId(): string | undefined {
  const id = workflowInfo().memo?.requestId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Carries the request id from the workflow's memo to every activity it schedules (as a
 * header) and onto the workflow's own log lines. Registered with the worker and built
 * into every workflow bundle.
 */
export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        const id = requestId();
        return next(id ? { ...input, headers: { ...input.headers, [REQUEST_ID_HEADER]: defaultPayloadConverter.toPayload(id) } } : input);
      },
      getLogAttributes(input, next) {
        const id = requestId();
        return next(id ? { ...input, requestId: id } : input);
      },
    },
  ],
});
