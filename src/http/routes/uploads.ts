import { Router } from 'express';
import { createUpload } from '../../uploads/service';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { incomingFile } from '../file-upload';

/** Job input files: POST one, pass its upload_id as `input_file` to POST /generate. */
export function createUploadsRouter(deps: AppDeps): Router {
  const router = Router();
  router.post('/uploads', async (req, res) => {
    const upload = await createUpload(deps, { userId: currentUser(req).id, file: incomingFile(req) });
    res.status(201).json({
      upload_id: upload.id,
      content_type: upload.contentType,
      size_bytes: Number(upload.sizeBytes),
      duration_seconds: upload.durationMs === null ? null : upload.durationMs / 1000,
    });
  });
  return router;
}
