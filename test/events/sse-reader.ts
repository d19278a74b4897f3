import type { TestUser } from '../helpers/test-env';

/** One Server-Sent Event as the API sends it. */
export interface Sse {
  id: string;
  event: string;
  data: any;
}

/** A stream as it is being read: events are appended as they come. */
export interface OpenedStream {
  status: number;
  contentType: string | null;
  headers: Headers;
  /** The error body when the answer is not a stream (not 200, not 204). */
  body: any;
  events: Array<Sse & { at: number }>;
  /** The last `retry:` hint, in ms. */
  retry?: number;
  /** Resolves when the server ends the stream; rejects when the client closed it or the timeout passed. */
  ended: Promise<void>;
  /** Whether the server has ended the stream. */
  readonly done: boolean;
  /** Drops the connection, as a client that goes away. */
  close(): void;
}

/** Opens a stream and reads it in the background until the server ends it, `close()` or `timeoutMs`. */
export async function openStream(baseUrl: string, path: string, user: TestUser, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<OpenedStream> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`stream ${path} still open after ${timeoutMs} ms`)), timeoutMs);
  const res = await fetch(`${baseUrl}${path}`, { headers: { ...user.auth, ...headers }, signal: controller.signal });
  const events: Array<Sse & { at: number }> = [];
  let done = false;
  const stream: OpenedStream = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    headers: res.headers,
    body: null,
    events,
    ended: Promise.resolve(),
    get done() {
      return done;
    },
    close: () => controller.abort(new Error('closed by the client')),
  };
  if (res.status !== 200) {
    const text = await res.text();
    stream.body = text ? JSON.parse(text) : null;
    clearTimeout(timer);
    done = true;
    return stream;
  }
  stream.ended = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
          if (fields.retry) stream.retry = Number(fields.retry);
          if (fields.id) events.push({ id: fields.id, event: fields.event!, data: JSON.parse(fields.data!), at: Date.now() });
        }
      }
      done = true;
    } finally {
      clearTimeout(timer);
    }
  })();
  stream.ended.catch(() => undefined); // a caller that closes the stream need not await it
  return stream;
}

/** Reads a whole event stream until the server ends it (or `timeoutMs` passes), with the time each event came. */
export async function readStream(baseUrl: string, path: string, user: TestUser, headers: Record<string, string> = {}, timeoutMs = 30_000) {
  const stream = await openStream(baseUrl, path, user, headers, timeoutMs);
  await stream.ended;
  return { status: stream.status, contentType: stream.contentType, events: stream.events, retry: stream.retry, body: stream.body, headers: stream.headers };
}
