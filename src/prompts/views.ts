import { presignedGet } from '../storage/presign-cache';
import type { Storage } from '../storage/s3';
import type { PromptWithImages } from './rows';
import type { ListedPrompt } from './service';
import { iso } from '../shared/dates';

export async function promptView(storage: Storage, p: PromptWithImages) {
  return {
    prompt_id: p.id,
    version_id: p.versionId,
    prompt: p.prompt,
    negative_prompt: p.negativePrompt,
    num_outputs: p.numOutputs,
    seed: p.seed,
    width: p.width,
    height: p.height,
    parameters: p.parameters,
    status: p.status,
    error: p.errorCode ? { code: p.errorCode, message: p.errorMessage ?? '' } : null,
    created_at: p.createdAt.toISOString(),
    started_at: iso(p.startedAt),
    completed_at: iso(p.completedAt),
    deadline: iso(p.deadlineAt),
    images: await Promise.all(
      p.images.map(async (i) => ({
        id: i.id,
        index: i.index,
        url: await presignedGet(storage, i.s3Key),
        width: i.width,
        height: i.height,
        content_type: i.contentType,
        size_bytes: Number(i.sizeBytes),
        sha256: i.sha256,
      })),
    ),
  };
}

export async function listedPromptView(storage: Storage, p: ListedPrompt) {
  return {
    prompt_id: p.id,
    prompt: p.prompt,
    status: p.status,
    created_at: new Date(p.created_at).toISOString(),
    images: await Promise.all(
      p.images.map(async (i) => ({ id: i.id, url: await presignedGet(storage, i.s3_key), width: i.width, height: i.height, content_type: i.content_type })),
    ),
  };
}
