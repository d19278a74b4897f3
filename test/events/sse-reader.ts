import type { TestUser } from '../helpers/test-env';

/** One Server-Sent Event as the API sends it. */
export interface Sse {
  id: string;
  event: string;
  data: any;
}

/** Reads a whole event stream until the server ends it (or `timeoutMs` passes), with the time each event came. */
export async function readStream(baseUrl: string, path: string, user: TestUser, headers: Record<string, string> = {}, timeoutMs = 30_000) {
  const res = await fetch(`${baseUrl}${path}`, { headers: { ...user.auth, ...headers }, signal: AbortSignal.timeout(timeoutMs) });
  const events: Array<Sse & { at: number }> = [];
  if (res.status !== 200) return { status: res.status, contentType: res.headers.get('content-type'), events, body: (await res.json()) as any };
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const fields: Record<string, string> = Object.fromEntries(block.split('\n').filter((l) => !l.startsWith(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
      if (fields.id) events.push({ id: fields.id, event: fields.event!, data: JSON.parse(fields.data!), at: Date.now() });
    }
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events, body: null as any };
}
