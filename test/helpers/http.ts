import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Test } from 'supertest';

export const sha256 = (buf: Buffer) => createHash('sha256').update(buf).digest('hex');

/** supertest parser that keeps binary bodies as Buffers: `.buffer(true).parse(binaryParser)`. */
export const binaryParser = ((res: IncomingMessage, cb: (err: Error | null, body: Buffer) => void): void => {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
  res.on('error', (e: Error) => cb(e, Buffer.alloc(0)));
}) as unknown as Parameters<Test['parse']>[0];

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}
