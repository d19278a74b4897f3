/**
 * A small keep-alive HTTP client and load generators on node:http (no dependency, so the bench
 * runs on a fresh clone): timed JSON requests, a closed-loop generator (N connections, each
 * sending its next request when the previous answer arrives), an open-loop one (a fixed
 * offered rate, whatever the answers do), and a streamed multipart upload from files on disk.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { sleep } from './stats';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Time from sending the request to the last byte of the answer. */
  ms: number;
}

export class HttpClient {
  readonly agent: http.Agent;
  private readonly url: URL;

  constructor(
    baseUrl: string,
    private readonly defaultHeaders: Record<string, string> = {},
    maxSockets = 64,
  ) {
    this.url = new URL(baseUrl);
    this.agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  request(
    method: string,
    pathname: string,
    opts: { json?: unknown; headers?: Record<string, string>; body?: NodeJS.ReadableStream; timeoutMs?: number } = {},
  ): Promise<Reply> {
    const payload = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json));
    const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const req = http.request(
        { host: this.url.hostname, port: this.url.port, method, path: pathname, headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - started }));
          res.on('error', reject);
        },
      );
      req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(new Error(`${method} ${pathname} timed out`)));
      req.on('error', reject);
      if (opts.body) opts.body.pipe(req);
      else req.end(payload);
    });
  }

  async json<T = any>(method: string, pathname: string, opts: Parameters<HttpClient['request']>[2] = {}): Promise<{ status: number; body: T; ms: number }> {
    const r = await this.request(method, pathname, opts);
    let body: T;
    try {
      body = JSON.parse(r.body.toString('utf8')) as T;
    } catch {
      body = r.body.toString('utf8') as unknown as T;
    }
    return { status: r.status, body, ms: r.ms };
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface LoadResult {
  /** Successful (2xx) latencies in ms. */
  latencies: number[];
  /** Count of each status (0 = network error). */
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
  /** Completed requests per second (all statuses). */
  rps: number;
}

/**
 * Closed loop: `connections` loops over their own keep-alive sockets, each sending the next
 * request as soon as the previous answer is read, for `durationMs`.
 */
export async function closedLoop(opts: {
  baseUrl: string;
  path: string;
  headers?: Record<string, string>;
  connections: number;
  durationMs: number;
  /** Not recorded: lets the connections open and the JIT warm up. */
  warmupMs?: number;
}): Promise<LoadResult> {
  const client = new HttpClient(opts.baseUrl, opts.headers ?? {}, opts.connections);
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let recording = false;
  let stopAt = Infinity;
  const loop = async () => {
    while (performance.now() < stopAt) {
      try {
        const r = await client.request('GET', opts.path);
        if (!recording) continue;
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (r.status >= 200 && r.status < 300) latencies.push(r.ms);
        else errors++;
      } catch {
        if (recording) {
          statuses['0'] = (statuses['0'] ?? 0) + 1;
          errors++;
        }
      }
    }
  };
  const warmup = opts.warmupMs ?? 0;
  stopAt = performance.now() + warmup + opts.durationMs;
  const loops = Array.from({ length: opts.connections }, loop);
  await sleep(warmup);
  recording = true;
  const started = performance.now();
  await Promise.all(loops);
  const seconds = (performance.now() - started) / 1000;
  client.close();
  const total = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { latencies, statuses, errors, seconds, rps: total / seconds };
}

/**
 * Open loop: calls `send(i)` at `ratePerSecond` for `durationMs` (on a fixed schedule, so a
 * slow answer never slows the offered load), and waits for every call to settle.
 */
export async function openLoop<T>(opts: { ratePerSecond: number; durationMs: number; send: (i: number) => Promise<T> }): Promise<{ results: PromiseSettledResult<T>[]; seconds: number; lagMs: number }> {
  const total = Math.round((opts.ratePerSecond * opts.durationMs) / 1000);
  const interval = 1000 / opts.ratePerSecond;
  const pending: Promise<T>[] = [];
  const started = performance.now();
  let maxLag = 0;
  for (let i = 0; i < total; i++) {
    const due = started + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    maxLag = Math.max(maxLag, performance.now() - due);
    pending.push(opts.send(i));
  }
  const seconds = (performance.now() - started) / 1000;
  return { results: await Promise.allSettled(pending), seconds, lagMs: maxLag };
}

/**
 * POSTs files as multipart/form-data, streamed from disk one after another (never in memory),
 * with an exact Content-Length.
 */
export async function postMultipartFiles(
  client: HttpClient,
  pathname: string,
  files: { field: string; path: string; contentType: string }[],
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; ms: number }> {
  const boundary = `----bench${Date.now().toString(16)}${Math.random().toString(16).slice(2)}`;
  const parts: Array<Buffer | { path: string }> = [];
  for (const [name, value] of Object.entries(fields)) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  for (const f of files) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${f.field}"; filename="${path.basename(f.path)}"\r\nContent-Type: ${f.contentType}\r\n\r\n`));
    parts.push({ path: f.path });
    parts.push(Buffer.from('\r\n'));
  }
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  const length = parts.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : fs.statSync(p.path).size), 0);

  async function* body() {
    for (const p of parts) {
      if (Buffer.isBuffer(p)) yield p;
      else yield* fs.createReadStream(p.path, { highWaterMark: 256 * 1024 });
    }
  }
  const r = await client.request('POST', pathname, {
    headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(length) },
    body: Readable.from(body()),
    timeoutMs: 10 * 60_000,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(r.body.toString('utf8'));
  } catch {
    parsed = r.body.toString('utf8');
  }
  return { status: r.status, body: parsed, ms: r.ms };
}
