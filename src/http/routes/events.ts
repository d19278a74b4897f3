import { Router, type Request, type Response } from 'express';
import { streamEvents, resumeAfter } from '../../events/stream';
import type { ResourceType } from '../../events/types';
import { jobIdParam } from '../../jobs/schemas';
import { promptIdParam } from '../../prompts/schemas';
import { versionIdParam } from '../../training/schemas';
import { ownResourceHead } from '../../webhooks-out/resource';
import { currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';

/**
 * Live progress: `GET /jobs/{id}/events`, `/versions/{id}/events` and `/prompts/{id}/events`
 * stream the resource's events as Server-Sent Events (`id:` event id, `event:` type, `data:`
 * JSON) and end after `completed`. `Last-Event-ID` resumes after that event.
 */
export function createEventsRouter(deps: AppDeps): Router {
  const router = Router();
  const stream = (resourceType: ResourceType, id: (req: Request) => string) => async (req: Request, res: Response) => {
    const ref = { resourceType, resourceId: id(req) };
    await ownResourceHead(deps.db, ref, currentUser(req).id);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.flushHeaders();
    let closed = false;
    res.on('close', () => (closed = true));
    try {
      await streamEvents(deps.db, ref, resumeAfter(req.get('last-event-id')), { write: (chunk) => res.write(chunk), closed: () => closed });
    } catch (err) {
      // Headers are sent: the client sees the stream end and resumes with Last-Event-ID.
      req.log.warn({ err }, 'event stream ended by an error');
    }
    res.end();
  };
  router.get('/jobs/:job_id/events', stream('job', (req) => parse(jobIdParam, req.params, 'path').job_id));
  router.get('/prompts/:prompt_id/events', stream('prompt', (req) => parse(promptIdParam, req.params, 'path').prompt_id));
  router.get('/versions/:version_id/events', stream('version', (req) => parse(versionIdParam, req.params, 'path').version_id));
  return router;
}
