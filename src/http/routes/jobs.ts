import { pipeline } from 'node:stream/promises';
import { Router } from 'express';
import { AppError, ErrorCode } from '../../errors';
import { z } from 'zod';
import { downloadQuery, generateBody, idempotencyKey, jobIdParam, listJobsQuery } from '../../jobs/schemas';
import { jobMetadata, jobView } from '../../jobs/serialize';
import { createFinishedViews } from '../../jobs/finished-views';
import { deleteJobOutputs } from '../../jobs/outputs';
import { FINISHED, getOwnJob, listJobs } from '../../jobs/rows';
import { cancelJob, submitJob } from '../../jobs/service';
import { MAX_DEADLINE_MS } from '../../shared/deadline';
import { holdUntilFinal } from '../hold';
import { cancelAfterDeadline, cancelAfterHeader, preferHeader, waitSeconds } from '../preferences';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { Phases } from '../../shared/phases';
import { serverTimingHeader } from '../server-timing';
import { parse } from '../validate';
import type { QueueBoard } from '../../queue/board';

/** The headers POST /generate reads, by their HTTP names (the OpenAPI document lists these). */
export const generateHeaders = z.object({ 'Idempotency-Key': idempotencyKey, Prefer: preferHeader, 'Cancel-After': cancelAfterHeader });

export function createJobsRouter(deps: AppDeps, queue: QueueBoard): Router {
  const { db, storage } = deps;
  const router = Router();
  const finished = createFinishedViews();

  router.post('/generate', async (req, res) => {
    const user = currentUser(req);
    const body = parse(generateBody, req.body);
    const headers = parse(generateHeaders, { 'Idempotency-Key': req.get('idempotency-key'), Prefer: req.get('prefer'), 'Cancel-After': req.get('cancel-after') }, 'header');
    const wait = waitSeconds(headers.Prefer);
    const deadlineAt = cancelAfterDeadline(headers['Cancel-After'], MAX_DEADLINE_MS);
    const timing = new Phases();
    const { job, replayed } = await timing.record(() =>
      submitJob(deps, { userId: user.id, body, idempotencyKey: headers['Idempotency-Key'], requestId: String(req.id), apiKeyId: req.apiKey?.keyId, deadlineAt }),
    );
    res.set('Server-Timing', serverTimingHeader(timing));
    if (replayed) res.set('Idempotent-Replayed', 'true');
    res.location(`/api/v1/status/${job.id}`);
    if (wait === null) {
      res.status(202).json({ job_id: job.id, status: job.status });
      return;
    }
    // Sync mode: the finished job (201), or the job as it is when the wait ends (202).
    await holdUntilFinal(res, deps.eventFanout, { resourceType: 'job', resourceId: job.id }, wait);
    const now = await getOwnJob(db, user.id, job.id);
    res.set('Preference-Applied', `wait=${wait}`);
    res.status(FINISHED.has(now.status) ? 201 : 202).json(await jobView(storage, now));
  });

  router.get('/status/:job_id', async (req, res) => {
    const { job_id } = parse(jobIdParam, req.params, 'path');
    const userId = currentUser(req).id;
    let body = finished.get(userId, job_id);
    if (body === undefined) {
      const job = await getOwnJob(db, userId, job_id);
      const position = await queue.position({ lane: 'interactive', userId, createdAt: job.createdAt, queued: job.status === 'queued' });
      body = JSON.stringify({ ...(await jobView(storage, job)), ...(position ? { queue: position } : {}) });
      if (FINISHED.has(job.status)) finished.set(userId, job_id, body);
    }
    res.type('json').send(body);
  });

  router.get('/jobs', async (req, res) => {
    const q = parse(listJobsQuery, req.query, 'query');
    const { items, nextCursor } = await listJobs(db, currentUser(req).id, q);
    res.json({ items: await Promise.all(items.map((j) => jobView(storage, j))), next_cursor: nextCursor });
  });

  router.get('/jobs/:job_id/metadata', async (req, res) => {
    const { job_id } = parse(jobIdParam, req.params, 'path');
    res.json(jobMetadata(await getOwnJob(db, currentUser(req).id, job_id)));
  });

  router.delete('/jobs/:job_id', async (req, res) => {
    const { job_id } = parse(jobIdParam, req.params, 'path');
    const job = await cancelJob(deps, currentUser(req).id, job_id);
    res.status(202).location(`/api/v1/status/${job.id}`).json({ job_id: job.id, status: job.status, cancel_requested: true });
  });

  // The files go from our bucket; the job, its outputs' metadata and its ledger rows stay.
  router.delete('/jobs/:job_id/outputs', async (req, res) => {
    const { job_id } = parse(jobIdParam, req.params, 'path');
    const userId = currentUser(req).id;
    const job = await deleteJobOutputs(deps, userId, job_id);
    finished.forget(userId, job_id);
    res.json(await jobView(storage, job));
  });

  router.get('/download/:job_id', async (req, res) => {
    const { job_id } = parse(jobIdParam, req.params, 'path');
    const { index } = parse(downloadQuery, req.query, 'query');
    const job = await getOwnJob(db, currentUser(req).id, job_id);
    const output = job.outputs.find((o) => o.index === index);
    if (!output) throw AppError.notFound(`Output ${index} of this job`);
    if (output.deletedAt) throw new AppError(404, ErrorCode.notFound, `Output ${index} of this job was deleted at ${output.deletedAt.toISOString()} (expired or by request)`);
    const object = await storage.getStream(output.s3Key);
    if (!object) throw AppError.notFound(`Output ${index} of this job`);
    const filename = `${job.id}-${index}.${output.s3Key.split('.').pop()}`;
    res.set({
      'Content-Type': output.contentType,
      'Content-Length': String(object.sizeBytes),
      'Content-Disposition': `attachment; filename="${filename}"`,
    });
    await pipeline(object.body, res);
  });

  return router;
}
