import { isFinal, type RunStatus } from './api';

export interface ServerSentEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Splits a text/event-stream body into events. EventSource cannot send an Authorization
 * header, so the console reads the stream with fetch and parses it here.
 */
export async function readEventStream(res: Response, onEvent: (e: ServerSentEvent) => Promise<void>): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = parseBlock(block);
      if (event) await onEvent(event);
    }
  }
}

function parseBlock(block: string): ServerSentEvent | undefined {
  const event: ServerSentEvent = { event: 'message', data: '' };
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event.event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') event.id = value;
  }
  if (data.length === 0 && event.event === 'message') return undefined;
  event.data = data.join('\n');
  return event;
}

export interface WatchOptions<T extends { status: RunStatus }> {
  /** Opens the resource's event stream (GET /jobs/{id}/events and the like, `parseAs: 'stream'`); throws unless 2xx. */
  events: (signal: AbortSignal) => Promise<{ response: Response }>;
  /** Reads the resource (GET /status/{id}, /prompts/{id}, /versions/info/{id}). */
  read: () => Promise<T>;
  onUpdate: (value: T) => void;
  onError: (err: unknown) => void;
  /** How often to read the resource when there is no event stream. */
  pollMs?: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

/**
 * Follows a job, prompt or model until it finishes. With the API's Server-Sent Events each
 * event is a cue to read the resource again, so the page shows the API's own state; where the
 * API has no event stream (404) or the stream ends early, it reads the resource every second.
 * Returns a function that stops watching.
 */
export function watch<T extends { status: RunStatus }>(opts: WatchOptions<T>): () => void {
  const controller = new AbortController();
  const { signal } = controller;
  const pollMs = opts.pollMs ?? 1000;
  let current: T | undefined;
  const refresh = async () => {
    const value = await opts.read();
    if (!signal.aborted) {
      current = value;
      opts.onUpdate(value);
    }
  };
  const followEvents = async () => {
    try {
      const res = (await opts.events(signal)).response;
      if (!res.headers.get('content-type')?.startsWith('text/event-stream')) return;
      await readEventStream(res, refresh);
    } catch (err) {
      if (signal.aborted) return;
      // No event stream here (or it broke): polling below takes over.
      console.info('event stream unavailable, polling instead:', err);
    }
  };
  const run = async () => {
    await refresh();
    if (current && !isFinal(current.status)) await followEvents();
    while (!signal.aborted && current && !isFinal(current.status)) {
      await sleep(pollMs, signal);
      if (!signal.aborted) await refresh();
    }
  };
  run().catch((err: unknown) => {
    if (!signal.aborted) opts.onError(err);
  });
  return () => controller.abort();
}
