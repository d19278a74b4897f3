import { Router } from 'express';
import { AppError } from '../../errors';
import { inspectUploadedPhotos, startTraining } from '../../training/service';
import { listVersionsQuery, paymentIdParam, versionIdParam } from '../../training/schemas';
import { versionView } from '../../training/views';
import { afterCursor, decodeCursor, page } from '../../shared/pagination';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';
import { BEFORE_PROVIDER, type QueueBoard } from '../../queue/board';


export function createVersionsRouter(deps: AppDeps, queue: QueueBoard): Router {
  const { db } = deps;
  const router = Router();

  router.post('/versions/train/:payment_id', async (req, res) => {
    const { payment_id } = parse(paymentIdParam, req.params, 'path');
    const started = await startTraining(deps, { userId: currentUser(req).id, paymentId: payment_id, body: req, requestId: String(req.id) });
    res.status(202).location(`/api/v1/versions/info/${started.versionId}`).json({ version_id: started.versionId, status: started.status });
  });

  // The training upload's checks, faces included, before anyone pays: answers the findings, starts nothing.
  router.post('/photos/inspect', async (req, res) => {
    res.json(await inspectUploadedPhotos(deps, { userId: currentUser(req).id, body: req }));
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
