import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import archiver from 'archiver';
import Replicate, { validateWebhook } from 'replicate';
import sharp from 'sharp';
import { startLocalReplicate, type Knobs, type LocalReplicate, type LocalReplicateOptions } from '../../tools/replicate-local/server';

export interface Local {
  local: LocalReplicate;
  replicate: Replicate;
}

/** The local server (on a free port unless `options.port`) with fast defaults, plus the real client pointed at it. */
export async function startLocal(knobs: Partial<Knobs> = {}, options: Omit<LocalReplicateOptions, 'knobs'> = {}): Promise<Local> {
  const local = await startLocalReplicate({ ...options, knobs: { latency_ms: 30, training_latency_ms: 60, ...knobs } });
  return { local, replicate: new Replicate({ auth: 'test-token', baseUrl: local.apiBaseUrl }) };
}

/** The port a local server listens on (to start it again there, so its output URLs stay valid). */
export function portOf(local: LocalReplicate): number {
  return Number(new URL(local.url).port);
}

export type Prediction = Awaited<ReturnType<Replicate['predictions']['get']>>;
export type Training = Awaited<ReturnType<Replicate['trainings']['get']>>;

const TERMINAL = ['succeeded', 'failed', 'canceled'];

/** Polls until the prediction is terminal (unlike replicate.wait, does not throw on failure). */
export async function settledPrediction(replicate: Replicate, id: string, timeoutMs = 10_000): Promise<Prediction> {
  return waitFor(async () => {
    const prediction = await replicate.predictions.get(id);
    return TERMINAL.includes(prediction.status) ? prediction : undefined;
  }, timeoutMs);
}

export async function settledTraining(replicate: Replicate, id: string, timeoutMs = 10_000): Promise<Training> {
  return waitFor(async () => {
    const training = await replicate.trainings.get(id);
    return TERMINAL.includes(training.status) ? training : undefined;
  }, timeoutMs);
}

/** Polls `check` every 10 ms until it returns a value other than undefined/false. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await sleep(10);
  }
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function download(url: string): Promise<{ status: number; contentType: string | null; contentLength: string | null; data: Buffer }> {
  const response = await fetch(url);
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    contentLength: response.headers.get('content-length'),
    data: Buffer.from(await response.arrayBuffer()),
  };
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TestHttpServer {
  url: string;
  close(): Promise<void>;
}

/** Records POSTed webhooks; `status(n)` picks the answer to the n-th request (0-based). */
export async function startWebhookReceiver(
  status: (n: number, request: ReceivedRequest) => number = () => 200,
): Promise<TestHttpServer & { requests: ReceivedRequest[] }> {
  const requests: ReceivedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      res.statusCode = status(requests.length, request);
      requests.push(request);
      res.end();
    });
  });
  return { ...(await listen(server)), requests };
}

/** Checks a received webhook with the replicate client's own validator. */
export function clientValidates(request: ReceivedRequest, secret: string): Promise<boolean> {
  return validateWebhook({
    id: String(request.headers['webhook-id']),
    timestamp: String(request.headers['webhook-timestamp']),
    signature: String(request.headers['webhook-signature']),
    body: request.body,
    secret,
  });
}

/** Serves fixed files at /<name>; anything else is a 404. */
export async function serveFiles(files: Record<string, { contentType: string; data: Buffer }>): Promise<TestHttpServer> {
  const server = createServer((req, res) => {
    const file = files[(req.url ?? '').slice(1).split('?')[0] ?? ''];
    if (!file) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', file.contentType);
    res.end(file.data);
  });
  return listen(server);
}

async function listen(server: ReturnType<typeof createServer>): Promise<TestHttpServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A real image made with sharp. */
export function solidImage(format: 'png' | 'jpeg' | 'webp', width = 64, height = 48): Promise<Buffer> {
  const base = sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } });
  return base.toFormat(format).toBuffer();
}

/** A zip built with the `archiver` package. */
export async function buildZip(entries: { name: string; data: Buffer }[]): Promise<Buffer> {
  const archive = archiver('zip', { zlib: { level: 1 } });
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  for (const entry of entries) archive.append(entry.data, { name: entry.name });
  await archive.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Raw API call with fetch (the client would retry 429s itself). */
export function rawApi(local: LocalReplicate, route: string, init: { method?: string; body?: unknown; auth?: boolean } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (init.auth !== false) headers.authorization = 'Bearer test-token';
  return fetch(`${local.apiBaseUrl}${route}`, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}
