import { Router } from 'express';
import { z } from 'zod';
import { holdUntilFinal } from '../hold';
import { cancelAfterDeadline, cancelAfterHeader, preferHeader, waitSeconds } from '../preferences';
import { MAX_DEADLINE_MS } from '../../shared/deadline';
import { getOwnPrompt } from '../../prompts/rows';
import { cancelPrompt, listPrompts, submitPrompt } from '../../prompts/service';
import { createPromptBody, listPromptsQuery, promptIdParam } from '../../prompts/schemas';
import { listedPromptView, promptView } from '../../prompts/views';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';
import type { QueueBoard } from '../../queue/board';
import { versionIdParam } from '../../training/schemas';

/** The headers POST /prompts/create reads, by their HTTP names (the OpenAPI document lists these). */
export const promptHeaders = z.object({ Prefer: preferHeader, 'Cancel-After': cancelAfterHeader });
const PROMPT_FINISHED: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

export function createPromptsRouter(deps: AppDeps, queue: QueueBoard): Router {
  const { db, storage } = deps;
  const router = Router();

  router.post('/prompts/create/:version_id', async (req, res) => {
    const { version_id } = parse(versionIdParam, req.params, 'path');
    const body = parse(createPromptBody, req.body);
    const headers = parse(promptHeaders, { Prefer: req.get('prefer'), 'Cancel-After': req.get('cancel-after') }, 'header');
    const wait = waitSeconds(headers.Prefer);
    const deadlineAt = cancelAfterDeadline(headers['Cancel-After'], MAX_DEADLINE_MS);
    const userId = currentUser(req).id;
    const { promptId } = await submitPrompt(deps, { userId, versionId: version_id, body, requestId: String(req.id), deadlineAt });
    res.location(`/api/v1/prompts/${promptId}`);
    if (wait === null) {
      res.status(202).json({ prompt_id: promptId, status: 'queued' });
      return;
    }
    // Sync mode: the finished prompt with its images (201), or the prompt as it is when the wait ends (202).
    await holdUntilFinal(res, deps.eventFanout, { resourceType: 'prompt', resourceId: promptId }, wait);
    const prompt = await getOwnPrompt(db, userId, promptId);
    res.set('Preference-Applied', `wait=${wait}`);
    res.status(PROMPT_FINISHED.has(prompt.status) ? 201 : 202).json(await promptView(storage, prompt));
  });

  router.get('/prompts/list/:version_id', async (req, res) => {
    const { version_id } = parse(versionIdParam, req.params, 'path');
    const q = parse(listPromptsQuery, req.query, 'query');
    const { items, nextCursor } = await listPrompts(db, currentUser(req).id, version_id, q);
    res.json({ items: await Promise.all(items.map((p) => listedPromptView(storage, p))), next_cursor: nextCursor });
  });

  router.get('/prompts/:prompt_id', async (req, res) => {
    const { prompt_id } = parse(promptIdParam, req.params, 'path');
    const userId = currentUser(req).id;
    const prompt = await getOwnPrompt(db, userId, prompt_id);
    const position = await queue.position({ lane: 'interactive', userId, createdAt: prompt.createdAt, queued: prompt.status === 'queued' });
    res.json({ ...(await promptView(storage, prompt)), ...(position ? { queue: position } : {}) });
  });

  router.delete('/prompts/:prompt_id', async (req, res) => {
    const { prompt_id } = parse(promptIdParam, req.params, 'path');
    await cancelPrompt(deps, currentUser(req).id, prompt_id);
    res.status(202).location(`/api/v1/prompts/${prompt_id}`).json({ prompt_id, cancel_requested: true });
  });

  return router;
}
