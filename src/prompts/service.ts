import { randomUUID } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { AppError, ErrorCode } from '../errors';
import type { ModelVersion } from '../generated/prisma/client';
import { decodeCursor, encodeCursor } from '../shared/pagination';
import { providerWebhookUrl } from '../provider/webhook-url';
import { workflowIds } from '../temporal/names';
import { startWorkflowFor } from '../temporal/start-workflow';
import type { generatePromptV2 } from '../../workflows/generate-prompt';
import { checkParameters } from '../catalog/contract';
import { assertNoDebt } from '../quota/ledger';
import { promptInput, TRAINED_MODEL_CONTRACT, type CreatePromptBody } from './schemas';
import { webhookColumns } from '../webhooks-out/request';
import { getOwnPrompt } from './rows';
import { resolveDeadline } from '../shared/deadline';

export interface PromptDeps {
  config: Config;
  db: Db;
  temporal: Client;
}

/**
 * Accepts a prompt for the caller's trained model. The GeneratePrompt workflow id is the
 * model's, so while one prompt runs the Temporal server refuses a second (409
 * version_busy) and nothing starts. `parameters` are checked against the trained model's
 * input contract (422) and quota here (402), before anything is written; the workflow
 * reserves the quota.
 */
export async function submitPrompt(
  deps: PromptDeps,
  req: { userId: string; versionId: string; body: CreatePromptBody; requestId?: string; deadlineAt?: Date },
): Promise<{ promptId: string }> {
  const { db, config } = deps;
  const { version, parameters } = await checkPromptRequest(deps, req);
  const deadlineAt = resolveDeadline(req.body.deadline, req.deadlineAt);
  await assertNoDebt(db, version);
  const left = version.imagesTotal - version.imagesUsed - version.imagesReserved;
  if (left < req.body.num_outputs) {
    throw new AppError(402, ErrorCode.quotaExceeded, `This model has ${left} image${left === 1 ? '' : 's'} left and the prompt asks for ${req.body.num_outputs}; buy an add-on plan for more`, {
      needed: req.body.num_outputs,
      available: left,
    });
  }

  const promptId = randomUUID();
  const workflowId = workflowIds.generatePrompt(version.id);
  await db.prompt.create({
    data: {
      id: promptId,
      userId: req.userId,
      versionId: version.id,
      prompt: req.body.prompt,
      negativePrompt: req.body.negative_prompt ?? null,
      numOutputs: req.body.num_outputs,
      seed: req.body.seed ?? null,
      width: req.body.width ?? null,
      height: req.body.height ?? null,
      parameters: parameters as object,
      workflowId,
      requestId: req.requestId ?? null,
      ...webhookColumns(req.body, config),
      deadlineAt,
    },
  });
  const { runId } = await startWorkflowFor<typeof generatePromptV2>(
    { temporal: deps.temporal, taskQueue: config.temporal.taskQueue },
    {
      workflowType: 'generatePromptV2',
      workflowId,
      reusePolicy: 'ALLOW_DUPLICATE',
      args: [
        {
          promptId,
          versionId: version.id,
          model: `${version.providerModel}:${version.providerVersion}`,
          input: promptInput(req.body, parameters),
          numOutputs: req.body.num_outputs,
          webhookUrl: providerWebhookUrl(config.http.publicBaseUrl, workflowId),
          pollIntervalMs: config.jobs.pollIntervalMs,
          timeoutMs: config.jobs.timeoutMs,
          ...(deadlineAt ? { deadlineMs: deadlineAt.getTime() } : {}),
        },
      ],
      memo: { promptId },
      attributes: { userId: req.userId, kind: 'prompt', versionId: version.id, requestId: req.requestId },
    },
    {
      undo: async () => void (await db.prompt.delete({ where: { id: promptId } })),
      conflict: async () => AppError.conflict(ErrorCode.versionBusy, 'This model is already generating a prompt; send the next one when it finishes'),
      unavailable: 'The prompt could not be queued; nothing was started. Try again shortly.',
    },
  );
  if (runId) await db.prompt.update({ where: { id: promptId }, data: { workflowRunId: runId } });
  return { promptId };
}

/**
 * The caller's trained model a prompt would run on and the prompt's validated parameters, or
 * what creating the prompt answers: 404 (not the caller's model), 409 version_not_ready, 422.
 * Quotes (src/quotes) check with it too.
 */
export async function checkPromptRequest(
  deps: Pick<PromptDeps, 'db' | 'config'>,
  req: { userId: string; versionId: string; body: CreatePromptBody },
): Promise<{ version: ModelVersion & { providerModel: string; providerVersion: string }; parameters: Record<string, unknown> }> {
  const version = await deps.db.modelVersion.findFirst({ where: { id: req.versionId, userId: req.userId } });
  if (!version) throw AppError.notFound('Model');
  const { providerModel, providerVersion } = version;
  if (version.status !== 'succeeded' || !providerModel || !providerVersion) {
    throw AppError.conflict(ErrorCode.versionNotReady, `This model is ${version.status}; prompts need a trained model`, { status: version.status });
  }
  const { input: parameters, issues } = checkParameters(TRAINED_MODEL_CONTRACT, req.body.parameters, { devKnobs: deps.config.env !== 'production' });
  if (issues.length) throw AppError.validation(`Invalid parameters: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
  return { version: { ...version, providerModel, providerVersion }, parameters };
}

/** Cancels the prompt's workflow run, which cancels the prediction and releases the reservation. */
export async function cancelPrompt(deps: PromptDeps, userId: string, promptId: string): Promise<void> {
  const prompt = await getOwnPrompt(deps.db, userId, promptId);
  const finished = () => AppError.conflict(ErrorCode.promptAlreadyFinished, `The prompt already ${prompt.status}; there is nothing to cancel`);
  if (!['queued', 'running'].includes(prompt.status)) throw finished();
  try {
    await deps.temporal.workflow.getHandle(prompt.workflowId, prompt.workflowRunId ?? undefined).cancel();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw finished();
    throw err;
  }
}

export interface ListedPrompt {
  id: string;
  prompt: string;
  status: string;
  created_at: Date;
  images: Array<{ id: string; s3_key: string; width: number | null; height: number | null; content_type: string }>;
}

/**
 * A model's prompts with their images, newest first, in ONE query: the ownership check,
 * the page of prompts and every image come back together. No rows: not the caller's model.
 */
export async function listPrompts(db: Db, userId: string, versionId: string, q: { limit: number; cursor?: string }) {
  const cursor = decodeCursor(q.cursor);
  const rows = await db.$queryRaw<Array<{ owned: boolean } & Partial<ListedPrompt>>>`
    SELECT true AS owned, p.id, p.prompt, p.status::text AS status, p.created_at, COALESCE(imgs.images, '[]'::json) AS images
      FROM model_versions v
      LEFT JOIN LATERAL (
        SELECT * FROM prompts p
         WHERE p.version_id = v.id
           AND (${cursor?.createdAt ?? null}::timestamptz IS NULL OR (p.created_at, p.id) < (${cursor?.createdAt ?? null}::timestamptz, ${cursor?.id ?? null}::uuid))
         ORDER BY p.created_at DESC, p.id DESC
         LIMIT ${q.limit + 1}
      ) p ON true
      LEFT JOIN LATERAL (
        SELECT json_agg(json_build_object('id', i.id, 's3_key', i.s3_key, 'width', i.width, 'height', i.height, 'content_type', i.content_type) ORDER BY i.index) AS images
          FROM prompt_images i WHERE i.prompt_id = p.id
      ) imgs ON true
     WHERE v.id = ${versionId}::uuid AND v.user_id = ${userId}::uuid
     ORDER BY p.created_at DESC, p.id DESC`;
  if (rows.length === 0) throw AppError.notFound('Model');
  const prompts = rows.filter((r): r is ListedPrompt & { owned: boolean } => r.id != null);
  const items = prompts.slice(0, q.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: prompts.length > q.limit && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null };
}
