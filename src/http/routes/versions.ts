import { Router } from 'express';
import { AppError } from '../../errors';
import { inspectUploadedPhotos, startTraining, trainablePayment } from '../../training/service';
import { listVersionsQuery, paymentIdParam, versionIdParam } from '../../training/schemas';
import { versionView } from '../../training/views';
import { afterCursor, decodeCursor, page } from '../../shared/pagination';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { withTrainingPhotos } from '../training-upload';
import { parse } from '../validate';
import { BEFORE_PROVIDER, type QueueBoard } from '../../queue/board';


export function createVersionsRouter(deps: AppDeps, queue: QueueBoard): Router {
  const { db } = deps;
  const router = Router();

  router.post('/versions/train/:payment_id', async (req, res) => {
    const { payment_id } = parse(paymentIdParam, req.params, 'path');
    const userId = currentUser(req).id;
    // Refused before the photos are read: a payment that cannot train costs no upload.
    const payment = await trainablePayment(db, userId, payment_id);
    const started = await withTrainingPhotos(deps.config, req, (upload) => startTraining(deps, { userId, payment, upload, requestId: String(req.id) }));
    res.status(202).location(`/api/v1/versions/info/${started.versionId}`).json({ version_id: started.versionId, status: started.status });
  });

  // The training upload's checks, faces included, before anyone pays: answers the findings, starts nothing.
  router.post('/photos/inspect', async (req, res) => {
    const userId = currentUser(req).id;
    res.json(await withTrainingPhotos(deps.config, req, (upload) => inspectUploadedPhotos(deps, { userId, upload })));
  });

  router.get('/versions/info/:version_id', async (req, res) => {
    const { version_id } = parse(versionIdParam, req.params, 'path');
    const version = await db.modelVersion.findFirst({ where: { id: version_id, userId: currentUser(req).id } });
    if (!version) throw AppError.notFound('Model');
    const position = await queue.position({ lane: 'training', userId: version.userId, createdAt: version.createdAt, queued: BEFORE_PROVIDER.has(version.status) });
    res.json({ ...versionView(version), ...(position ? { queue: position } : {}) });
  });

  router.get('/versions', async (req, res) => {
    const q = parse(listVersionsQuery, req.query, 'query');
    const rows = await db.modelVersion.findMany({
      where: { userId: currentUser(req).id, ...afterCursor(decodeCursor(q.cursor)) },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: q.limit + 1,
    });
    const { items, nextCursor } = page(rows, q.limit);
    res.json({ items: items.map(versionView), next_cursor: nextCursor });
  });

  return router;
}
