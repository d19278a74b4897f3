import { Router, type Request, type Response } from 'express';
import type { KeyVerifier } from '../../accounts/key-verifier';
import { createOpenStreams } from '../../events/open-streams';
import { isFinalStatus, nothingLeft, ownResourceStatus, resumeAfter, streamEvents, HEARTBEAT_MS, type StreamEnd } from '../../events/stream';
import type { ResourceType } from '../../events/types';
import { jobIdParam } from '../../jobs/schemas';
import { promptIdParam } from '../../prompts/schemas';
import { versionIdParam } from '../../training/schemas';
import { currentApiKey, currentUser } from '../auth';
import type { AppDeps } from '../deps';
import { parse } from '../validate';
import { BEFORE_PROVIDER, type QueueBoard } from '../../queue/board';

/** How often a stream of queued work says where it stands (from the process's shared snapshot). */
const QUEUE_EVERY_MS = 2_000;

/**
 * Live progress: `GET /jobs/{id}/events`, `/versions/{id}/events` and `/prompts/{id}/events`
 * stream the resource's events as Server-Sent Events (`id:` event id, `event:` type, `data:`
 * JSON) and end after `completed`. `Last-Event-ID` resumes after that event; a resource that is
 * final with nothing after it answers 204, which tells EventSource to stop reconnecting.
 *
 * Streams are bounded (src/events/open-streams.ts): SSE_MAX_STREAMS_PER_KEY per API key (429
 * too_many_streams), SSE_MAX_STREAMS per process (503), SSE_MAX_LIFETIME_MS each (then a
 * `retry:` hint and the end), and a key's streams end when the key is revoked. No stream polls:
 * new events come from the process's one listener (src/events/fanout.ts).
 */
export function createEventsRouter(deps: AppDeps, keys: KeyVerifier, queue: QueueBoard): Router {
  const router = Router();
  const { sse } = deps.config;
  const streams = createOpenStreams({
    db: deps.db,
    logger: deps.logger,
    limits: { maxPerKey: sse.maxStreamsPerKey, maxTotal: sse.maxStreams, maxLifetimeMs: sse.maxLifetimeMs },
    keys,
  });
  const stream = (resourceType: ResourceType, id: (req: Request) => string) => async (req: Request, res: Response) => {
    const ref = { resourceType, resourceId: id(req) };
    const key = currentApiKey(req);
    const after = resumeAfter(req.get('last-event-id'));
    const opened = streams.open(key);
    res.on('close', () => opened.end());
    let ended: StreamEnd | undefined;
    try {
      const userId = currentUser(req).id;
      const head = await ownResourceStatus(deps.db, ref, userId);
      const final = isFinalStatus(head.status);
      const lane = resourceType === 'version' ? 'training' : 'interactive';
      const inLine = lane === 'training' ? BEFORE_PROVIDER.has(head.status) : head.status === 'queued';
      if (final && (await nothingLeft(deps.db, ref, after))) {
        res.status(204).end();
        opened.release();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      res.flushHeaders();
      // A rotated key's streams end when the key does.
      const keyLeftMs = key.expiresAt ? Math.max(1, key.expiresAt.getTime() - Date.now()) : Infinity;
      ended = await streamEvents({ db: deps.db, fanout: deps.eventFanout }, ref, after, { write: (chunk) => res.write(chunk) }, {
        heartbeatMs: HEARTBEAT_MS,
        lifetimeMs: Math.min(sse.maxLifetimeMs, keyLeftMs),
        retryMs: sse.retryMs,
        final,
        signal: opened.signal,
        ...(inLine ? { queue: { everyMs: QUEUE_EVERY_MS, position: () => queue.position({ lane, userId, createdAt: head.createdAt, queued: true }) } } : {}),
      });
      req.log.debug({ ended }, 'event stream ended');
    } catch (err) {
      opened.release();
      if (!res.headersSent) throw err;
      // Headers are sent: the client sees the stream end and resumes with Last-Event-ID.
      req.log.warn({ err }, 'event stream ended by an error');
    }
    opened.release();
    res.end();
    // Shutting down: the connection closes too, so the server's close does not wait for it.
    if (ended === 'shutdown') res.socket?.end();
  };
  router.get('/jobs/:job_id/events', stream('job', (req) => parse(jobIdParam, req.params, 'path').job_id));
  router.get('/prompts/:prompt_id/events', stream('prompt', (req) => parse(promptIdParam, req.params, 'path').prompt_id));
  router.get('/versions/:version_id/events', stream('version', (req) => parse(versionIdParam, req.params, 'path').version_id));
  return router;
}
