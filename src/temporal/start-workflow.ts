import { randomUUID } from 'node:crypto';
import { isGrpcServiceError, NamespaceNotFoundError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowStartOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { AppError } from '../errors';
import { jobsStarted } from '../metrics/business';
import { taskQueues } from './names';
import { workPriority } from './priority';
import { startAttributes } from './search-attributes';

export interface StartRequest<W extends Workflow> {
  /** The workflow function's type, for its argument types. */
  workflowType: string;
  workflowId: string;
  args: Parameters<W>;
  /** Which earlier runs of the id may be followed by a new one (the id is the lock). */
  reusePolicy: WorkflowStartOptions['workflowIdReusePolicy'];
  /** Search attributes and memo: who asked, for what. */
  attributes: Parameters<typeof startAttributes>[0];
  memo?: Record<string, unknown>;
}

export interface StartHooks {
  /**
   * Removes what the request wrote (the row, a reservation, stored files). Called only when
   * the workflow certainly did not start, so a running workflow never loses its row.
   */
  undo: () => Promise<void>;
  /**
   * The answer when the id is taken by another run; undefined means that run is this
   * request's own (a concurrent replay of the same Idempotency-Key) and counts as started.
   */
  conflict?: () => Promise<AppError>;
  /** What the client is told when the server cannot be reached: what did not happen. */
  unavailable: string;
}

/**
 * The one place a business request becomes a workflow: the business id is the workflow id,
 * started on the main task queue with an explicit reuse policy and FAIL on conflict, with
 * the request id in the memo, the search attributes operators filter on, and the account as
 * the fairness key (src/temporal/priority.ts).
 *
 * A start that fails ambiguously (a timeout or a lost answer: the server may have started
 * the workflow) is checked before anything is undone: the run carries a token in its memo,
 * and only if the server answers that no run with that token exists is the request's row
 * removed. If the server cannot say, the row stays for reconciliation and the client gets
 * 503: a running workflow never loses its row.
 */
export async function startWorkflowFor<W extends Workflow>(
  deps: { temporal: Client; taskQueue: string },
  req: StartRequest<W>,
  hooks: StartHooks,
): Promise<{ runId: string }> {
  const startToken = randomUUID();
  try {
    // WorkflowStartOptions<W> types `args` conditionally on W, which TypeScript cannot resolve
    // for a generic W; StartRequest<W> already ties args to the workflow's parameters.
    const options = {
      workflowId: req.workflowId,
      taskQueue: taskQueues(deps.taskQueue).main,
      workflowIdReusePolicy: req.reusePolicy,
      workflowIdConflictPolicy: 'FAIL',
      args: req.args,
      memo: { requestId: req.attributes.requestId ?? null, ...req.memo, startToken },
      typedSearchAttributes: startAttributes(req.attributes),
      // The account's fair share of every queue this workflow and its activities use.
      priority: workPriority(req.attributes.kind, req.attributes.userId),
    } as unknown as WorkflowStartOptions<W>;
    const handle = await deps.temporal.workflow.start<W>(req.workflowType, options);
    jobsStarted.inc({ kind: req.attributes.kind });
    return { runId: handle.firstExecutionRunId };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      if (!hooks.conflict) return { runId: '' };
      await hooks.undo();
      throw await hooks.conflict();
    }
    const started = refusedOutright(err) ? 'no' : await startedWithToken(deps.temporal, req.workflowId, startToken);
    if (started === 'yes') {
      jobsStarted.inc({ kind: req.attributes.kind });
      return { runId: '' };
    }
    if (started === 'no') {
      await hooks.undo();
      // The server's own words (gRPC messages, addresses) go to the log, never to the client.
      throw AppError.unavailable(hooks.unavailable, { component: 'temporal' }).withCause(err);
    }
    throw AppError.unavailable(
      'The request was recorded but whether its work started could not be confirmed; its status shows what happened, and reconciliation finishes or refunds it.',
      { component: 'temporal', workflow_id: req.workflowId },
    ).withCause(err);
  }
}

/**
 * The server answered and refused (an unknown namespace, an invalid request, no permission):
 * nothing started. Anything else (unreachable, a deadline, an internal error) is ambiguous.
 */
function refusedOutright(err: unknown): boolean {
  if (err instanceof NamespaceNotFoundError) return true;
  const cause = (err as Error).cause;
  const grpc = isGrpcServiceError(err) ? err : isGrpcServiceError(cause) ? cause : undefined;
  return grpc !== undefined && REFUSALS.has(grpc.code);
}

/** gRPC status codes with which the server refuses a request it did not carry out. */
const REFUSALS = new Set([
  3, // INVALID_ARGUMENT
  5, // NOT_FOUND (e.g. the namespace)
  7, // PERMISSION_DENIED
  8, // RESOURCE_EXHAUSTED (rate limited)
  9, // FAILED_PRECONDITION
  16, // UNAUTHENTICATED
]);

/** Whether the latest run of `workflowId` is the one started with `token`: yes, no, or unknown. */
async function startedWithToken(temporal: Client, workflowId: string, token: string): Promise<'yes' | 'no' | 'unknown'> {
  try {
    const description = await temporal.workflow.getHandle(workflowId).describe();
    return description.memo?.startToken === token ? 'yes' : 'no';
  } catch (err) {
    return err instanceof WorkflowNotFoundError ? 'no' : 'unknown';
  }
}
