import { Router } from 'express';
import { z } from 'zod';
import { getOwnBatch } from '../../batches/rows';
import { cancelBatch, createBatch } from '../../batches/service';
import { batchView } from '../../batches/views';
import { batchIdParam, createBatchBody } from '../../batches/schemas';
import { idempotencyKey } from '../../jobs/schemas';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

/** The headers POST /batches reads, by their HTTP names (the OpenAPI document lists these). */
export const batchHeaders = z.object({
  'Idempotency-Key': idempotencyKey.meta({
    description: 'A retry with the same key and body returns the same batch and creates no job twice; the same key with another body is 422 `idempotency_key_reused`.',
  }),
});

/** Batches of jobs (src/batches/service.ts): create, read, cancel. */
export function createBatchesRouter(deps: AppDeps): Router {
  const router = Router();

  router.post('/batches', async (req, res) => {
    const user = currentUser(req);
    const body = parse(createBatchBody, req.body);
    const headers = parse(batchHeaders, { 'Idempotency-Key': req.get('idempotency-key') }, 'header');
    const { batch, replayed } = await createBatch(deps, {
      userId: user.id,
      body,
      idempotencyKey: headers['Idempotency-Key'],
      requestId: String(req.id),
      apiKeyId: req.apiKey?.keyId,
    });
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.status(202).location(`/api/v1/batches/${batch.id}`).json(batchView(batch));
  });

  router.get('/batches/:batch_id', async (req, res) => {
    const { batch_id } = parse(batchIdParam, req.params, 'path');
    res.json(batchView(await getOwnBatch(deps.db, currentUser(req).id, batch_id)));
  });

  router.delete('/batches/:batch_id', async (req, res) => {
    const { batch_id } = parse(batchIdParam, req.params, 'path');
    const { batch, canceled } = await cancelBatch(deps, currentUser(req).id, batch_id);
    res.status(202).location(`/api/v1/batches/${batch.id}`).json({ batch_id: batch.id, cancel_requested: canceled });
  });

  return router;
}
