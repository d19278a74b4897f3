import type { Response } from 'express';
import type { EventFanout } from '../events/fanout';
import type { ResourceRef } from '../events/types';

/**
 * Holds a create request (Prefer: wait) until the resource's `completed` event is committed,
 * `seconds` pass, the client goes away or the process shuts down, whichever comes first. The
 * wait is a subscription to the process's one event listener (src/events/fanout.ts): one
 * indexed read when it starts and one per `completed` notification of this resource, no polling.
 */
export async function holdUntilFinal(res: Response, fanout: EventFanout, ref: ResourceRef, seconds: number): Promise<void> {
  const gone = new AbortController();
  const onClose = () => gone.abort();
  res.on('close', onClose);
  try {
    await fanout.waitForFinal(ref, seconds * 1000, gone.signal);
  } finally {
    res.off('close', onClose);
  }
}
