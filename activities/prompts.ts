import { ApplicationFailure } from '@temporalio/activity';
import { ErrorCode } from '../src/error-codes';
import { recordFinished } from '../src/metrics/business';
import { reserveImages, settleReservation } from '../src/quota/ledger';
import { changeWithEvents, type EventDeps } from './events';
import { outputColumns, type CopiedOutput } from './outputs';

const ACTIVE = ['queued', 'running'] as const;

/**
 * Prompt state and its image quota. The reservation is taken before the prediction
 * starts and settled exactly once, in the same transaction as the prompt's final state.
 */
export function createPromptActivities(deps: EventDeps) {
  const { db } = deps;
  const change = changeWithEvents(deps);
  const prompt = (promptId: string) => ({ resourceType: 'prompt' as const, resourceId: promptId });
  return {
    async reservePromptImages(req: { promptId: string; versionId: string; images: number }): Promise<void> {
      const result = await db.$transaction((tx) => reserveImages(tx, req));
      if (result === 'insufficient') {
        throw ApplicationFailure.nonRetryable(`Not enough images left on this model for ${req.images} more`, ErrorCode.quotaExceeded);
      }
      if (typeof result === 'object') {
        throw ApplicationFailure.nonRetryable(`A refund or dispute left ${result.inDebt.owed} ${result.inDebt.unit} owed; nothing more can be spent until it is paid`, ErrorCode.accountInDebt);
      }
    },

    /**
     * Records the prompt's run and moves it to running; false when the prompt already ended, whose
     * images reserved for this run (after its cancel released what it held) are released here.
     */
    async markPromptRunning(req: { promptId: string; versionId: string; predictionId: string }): Promise<boolean> {
      return change(prompt(req.promptId), async (tx, emit) => {
        const { count } = await tx.prompt.updateMany({
          where: { id: req.promptId, status: { in: [...ACTIVE] } },
          data: { status: 'running', providerPredictionId: req.predictionId, startedAt: new Date() },
        });
        if (count === 0) {
          await settleReservation(tx, { versionId: req.versionId, promptId: req.promptId, used: 0 });
          return false;
        }
        await emit('status', { status: 'running' });
        return true;
      });
    },

    /**
     * Stores the image rows, commits the images actually stored and releases the rest. The
     * move to `succeeded` is claimed first, in one conditional update, so a cancel that
     * committed first keeps the prompt canceled with its images released.
     */
    async completePrompt(req: { promptId: string; versionId: string; images: CopiedOutput[] }): Promise<void> {
      await change(prompt(req.promptId), async (tx, emit) => {
        const claimed = await tx.prompt.updateMany({
          where: { id: req.promptId, status: { in: [...ACTIVE] } },
          data: { status: 'succeeded', completedAt: new Date() },
        });
        if (claimed.count === 0) {
          if (!(await tx.prompt.findUnique({ where: { id: req.promptId }, select: { id: true } }))) {
            throw ApplicationFailure.nonRetryable(`Prompt ${req.promptId} does not exist`, ErrorCode.promptNotFound);
          }
          return;
        }
        await tx.promptImage.createMany({
          data: req.images.map((o) => ({ ...outputColumns(o), promptId: req.promptId })),
          skipDuplicates: true,
        });
        for (const o of req.images) await emit('output', { index: o.index });
        await emit('completed', { status: 'succeeded', error: null });
        recordFinished('prompt', 'succeeded', req.images);
        await settleReservation(tx, { versionId: req.versionId, promptId: req.promptId, used: req.images.length });
      });
    },

    /**
     * The prompt's deadline passed before it was final: one whose provider run never started
     * (still queued) ends `aborted`, one that was running ends `canceled`, both with error
     * deadline_exceeded and the whole image reservation released. Returns the prompt's status now
     * (a prompt that finished first keeps its own).
     */
    async endPromptAtDeadline(req: { promptId: string; versionId: string }): Promise<string> {
      return change(prompt(req.promptId), async (tx, emit) => {
        const now = await tx.prompt.findUnique({ where: { id: req.promptId }, select: { status: true, deadlineAt: true } });
        if (!now) throw ApplicationFailure.nonRetryable(`Prompt ${req.promptId} does not exist`, ErrorCode.promptNotFound);
        if (!(ACTIVE as readonly string[]).includes(now.status)) return now.status;
        const status = now.status === 'queued' ? 'aborted' : 'canceled';
        const deadline = now.deadlineAt?.toISOString() ?? null;
        const message =
          status === 'aborted'
            ? `The deadline (${deadline}) passed before the model started; nothing ran and no image was used`
            : `The deadline (${deadline}) passed before the prompt finished; the run was canceled and its images released`;
        const { count } = await tx.prompt.updateMany({
          where: { id: req.promptId, status: now.status },
          data: { status, errorCode: ErrorCode.deadlineExceeded, errorMessage: message, completedAt: new Date() },
        });
        if (count === 0) return (await tx.prompt.findUniqueOrThrow({ where: { id: req.promptId }, select: { status: true } })).status;
        await emit('completed', { status, error: { code: ErrorCode.deadlineExceeded, message }, deadline });
        recordFinished('prompt', 'canceled');
        await settleReservation(tx, { versionId: req.versionId, promptId: req.promptId, used: 0 });
        return status;
      });
    },

    /** Records a failed or canceled prompt and releases its whole reservation. */
    async finishPrompt(req: { promptId: string; versionId: string; status: 'failed' | 'canceled'; code: string; message: string }): Promise<void> {
      await change(prompt(req.promptId), async (tx, emit) => {
        const { count } = await tx.prompt.updateMany({
          where: { id: req.promptId, status: { in: [...ACTIVE] } },
          data: { status: req.status, errorCode: req.code, errorMessage: req.message, completedAt: new Date() },
        });
        if (count > 0) {
          await emit('completed', { status: req.status, error: { code: req.code, message: req.message } });
          recordFinished('prompt', req.status);
        }
        await settleReservation(tx, { versionId: req.versionId, promptId: req.promptId, used: 0 });
      });
    },
  };
}
