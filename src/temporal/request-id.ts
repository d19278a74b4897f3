import { AsyncLocalStorage } from 'node:async_hooks';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ActivityInterceptors } from '@temporalio/worker';
import { REQUEST_ID_HEADER } from './request-id-header';

const current = new AsyncLocalStorage<string | undefined>();

/** The HTTP request id behind the running activity (from its header), if any. */
export function currentRequestId(): string | undefined {
  return current.getStore();
}

/** Puts the request id on every log line of the activity, and makes it available to its code. */
export function requestIdActivityInterceptor(): ActivityInterceptors {
  return {
    inbound: {
      execute(input, next) {
        const payload = input.headers[REQUEST_ID_HEADER];
        const id = payload ? defaultPayloadConverter.fromPayload<string>(payload) : undefined;
        return current.run(id, () => next(input));
      },
    },
    outbound: {
      getLogAttributes(input, next) {
        const id = current.getStore();
        return next(id ? { ...input, requestId: id } : input);
      },
    },
  };
}

/** The workflow interceptor module; bundles must include it (workflowInterceptorModules). */
export const WORKFLOW_INTERCEPTOR_MODULES = [require.resolve('../../workflows/interceptors')];
