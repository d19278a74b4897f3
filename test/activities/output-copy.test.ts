import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createOutputActivities, type CopiedOutput, type OutputsOwner, type RecordOutputs } from '../../activities/outputs';
import { createOutputFetcher, type OutputFetchPolicy } from '../../src/provider/output-fetch';
import { createS3Client, createStorage, type Storage } from '../../src/storage/s3';
import { makePng } from '../fixtures/images';
import { sha256 } from '../helpers/http';
import { readStackInfo } from '../../tools/dev/stack-info';

/**
 * copyOutput against real HTTP servers on loopback and the test stack's MinIO: which URLs the
 * worker fetches at all, where the stored type comes from, timeouts and heartbeats.
 */
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface TestServer {
  origin: string;
  port: number;
  /** Paths requested so far. */
  hits: string[];
  /** TCP connections accepted so far (a refused URL must not even connect). */
  connections: () => number;
  close(): Promise<void>;
}

const servers: TestServer[] = [];
async function serve(handler: Handler): Promise<TestServer> {
  const hits: string[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const s: TestServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    hits,
    connections: () => connections,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(s);
  return s;
}

let storage: Storage;
let png: Buffer;
beforeAll(async () => {
  const { s3 } = readStackInfo();
  storage = createStorage(createS3Client({ ...s3, presignTtlSeconds: 60 }), { ...s3, presignTtlSeconds: 60 });
  png = await makePng({ width: 64, height: 48 });
});
afterAll(() => Promise.all(servers.map((s) => s.close())));

const testPolicy = (overrides: Partial<OutputFetchPolicy> = {}): OutputFetchPolicy => ({
  allowedHosts: ['127.0.0.1'],
  production: false,
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 5_000,
  maxRedirects: 3,
  ...overrides,
});

const neverRecorded: RecordOutputs = async () => {
  throw new Error('copyOutput records nothing');
};

let run = 0;
function copy(policy: OutputFetchPolicy, url: string, env = new MockActivityEnvironment()): Promise<CopiedOutput> {
  const { copyOutput } = createOutputActivities({ storage, outputFetcher: createOutputFetcher(policy), recordOutputs: neverRecorded });
  return env.run(copyOutput, { keyPrefix: `test-output-copy/${Date.now()}-${run++}`, index: 0, url }) as Promise<CopiedOutput>;
}

async function refusal(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('copyOutput: what is stored', () => {
  it('when the provider says text/html for PNG bytes, then the stored type comes from the bytes', async () => {
    const origin = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'text/html' }).end(png));
    const out = await copy(testPolicy(), `${origin.origin}/files/out.html`);
    expect(out).toMatchObject({ contentType: 'image/png', sizeBytes: png.length, sha256: sha256(png), width: 64, height: 48 });
    expect(out.key).toMatch(/\/0\.png$/);
    const stored = await storage.getStream(out.key);
    expect(stored?.contentType).toBe('image/png');
    stored?.body.resume();
  });

  it('when the bytes are of no type we know, then they are stored as application/octet-stream, whatever the header says', async () => {
    const origin = await serve((_req, res) => res.writeHead(200, { 'Content-Type': 'image/png' }).end('<script>alert(1)</script>'));
    const out = await copy(testPolicy(), `${origin.origin}/files/x.png`);
    expect(out).toMatchObject({ contentType: 'application/octet-stream', width: null, height: null });
    expect(out.key).toMatch(/\/0\.bin$/);
  });

  it('when the download is slow, then the copy heartbeats with the bytes copied so far', async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(200);
      let sent = 0;
      const step = Math.ceil(png.length / 5);
      const timer = setInterval(() => {
        res.write(png.subarray(sent, sent + step));
        sent += step;
        if (sent >= png.length) {
          clearInterval(timer);
          res.end();
        }
      }, 600);
    });
    const env = new MockActivityEnvironment();
    const beats: Array<{ bytes: number }> = [];
    env.on('heartbeat', (d: { bytes: number }) => beats.push(d));
    const out = await copy(testPolicy(), `${origin.origin}/slow.png`, env);
    expect(out.sizeBytes).toBe(png.length);
    // About 3 s of copying with a beat every second; generous bounds for a loaded machine.
    expect(beats.length).toBeGreaterThanOrEqual(2);
    expect(beats.some((b) => b.bytes > 0 && b.bytes < png.length)).toBe(true);
    expect(beats.map((b) => b.bytes)).toEqual([...beats.map((b) => b.bytes)].sort((a, b) => a - b));
  });
});

describe('storeOutputs: every output of a job or prompt in one step', () => {
  it('when a job made two outputs, then both are stored under their index and recorded together, after the copies', async () => {
    const jpeg = await makePng({ width: 32, height: 32 });
    const origin = await serve((req, res) => res.writeHead(200).end(req.url === '/1' ? jpeg : png));
    const recorded: Array<{ owner: OutputsOwner; outputs: CopiedOutput[] }> = [];
    const { storeOutputs } = createOutputActivities({
      storage,
      outputFetcher: createOutputFetcher(testPolicy()),
      recordOutputs: async (owner, outputs) => {
        // Recorded only once every copy is in the bucket.
        for (const o of outputs) expect(await storage.getStream(o.key).then((s) => (s?.body.resume(), s !== null))).toBe(true);
        recorded.push({ owner, outputs });
      },
    });
    const keyPrefix = `test-output-copy/${Date.now()}-${run++}`;
    const owner: OutputsOwner = { job: { jobId: 'job-1', metrics: { predict_time: 1.5 }, providerCompletedAt: '2026-12-07T12:00:00.000Z' } };
    const stored = await new MockActivityEnvironment().run(storeOutputs, { keyPrefix, urls: [`${origin.origin}/0`, `${origin.origin}/1`], owner });
    expect(stored).toBe(2);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.owner).toEqual(owner);
    expect(recorded[0]!.outputs.map((o) => [o.index, o.key, o.sha256])).toEqual([
      [0, `${keyPrefix}/0.png`, sha256(png)],
      [1, `${keyPrefix}/1.png`, sha256(jpeg)],
    ]);
  });

  it('when one copy fails, then nothing is recorded and the whole step fails (its retry copies onto the same keys)', async () => {
    const origin = await serve((req, res) => (req.url === '/1' ? res.writeHead(500).end() : res.writeHead(200).end(png)));
    let recorded = 0;
    const { storeOutputs } = createOutputActivities({
      storage,
      outputFetcher: createOutputFetcher(testPolicy()),
      recordOutputs: async () => void recorded++,
    });
    const owner: OutputsOwner = { prompt: { promptId: 'prompt-2', versionId: 'version-2' } };
    const err = await new MockActivityEnvironment()
      .run(storeOutputs, { keyPrefix: `test-output-copy/${Date.now()}-${run++}`, urls: [`${origin.origin}/0`, `${origin.origin}/1`], owner })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(err?.message).toContain('HTTP 500');
    expect(recorded).toBe(0);
  });
});

describe('copyOutput: which URLs are fetched', () => {
  it('when the host is not one of the delivery hosts, then the copy fails for good with output_url_refused and nothing is requested', async () => {
    const origin = await serve((_req, res) => res.end(png));
    const failure = await refusal(copy(testPolicy({ allowedHosts: ['replicate.delivery'] }), `${origin.origin}/out.png`));
    expect(failure).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
    expect(failure.message).toContain('127.0.0.1 is not one of');
    expect(origin.connections()).toBe(0);
  });

  it('when an allowed host redirects to a host that is not allowed, then the redirect is refused and never followed', async () => {
    const elsewhere = await serve((_req, res) => res.end(png));
    const origin = await serve((_req, res) => res.writeHead(302, { Location: `http://localhost:${elsewhere.port}/stolen.png` }).end());
    const failure = await refusal(copy(testPolicy(), `${origin.origin}/out.png`));
    expect(failure).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
    expect(failure.message).toContain('localhost');
    expect(origin.hits).toEqual(['/out.png']);
    expect(elsewhere.connections()).toBe(0);
  });

  it('when an allowed host redirects within the allowed hosts, then the copy follows it (at most 3 hops)', async () => {
    const target = await serve((req, res) => {
      const hop = Number(/\/hop\/(\d+)/.exec(req.url ?? '')?.[1] ?? 0);
      if (hop < 3) res.writeHead(302, { Location: `/hop/${hop + 1}` }).end();
      else res.writeHead(200).end(png);
    });
    const out = await copy(testPolicy(), `${target.origin}/hop/0`);
    expect(out.contentType).toBe('image/png');

    const failure = await refusal(copy(testPolicy({ maxRedirects: 2 }), `${target.origin}/hop/0`));
    expect(failure).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
    expect(failure.message).toContain('redirects more than 2 times');
  });

  it('when production rules apply, then plain http and names that resolve to loopback are refused before connecting', async () => {
    const origin = await serve((_req, res) => res.end(png));
    const production = testPolicy({ production: true, allowedHosts: ['127.0.0.1', 'localhost'] });
    const http = await refusal(copy(production, `${origin.origin}/out.png`));
    expect(http).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
    expect(http.message).toContain('must be https');

    const loopbackName = await refusal(copy(production, `https://localhost:${origin.port}/out.png`));
    expect(loopbackName).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
    expect(loopbackName.message).toContain('private, loopback or link-local');

    const literal = await refusal(copy(production, `https://127.0.0.1:${origin.port}/out.png`));
    expect(literal.type).toBe('output_url_refused');
    expect(origin.connections()).toBe(0);
  });

  it('when one of the addresses a name resolves to is private, then the URL is refused in production', async () => {
    const policy = testPolicy({
      production: true,
      allowedHosts: ['*.replicate.delivery'],
      resolve: async () => [{ address: '93.184.215.14', family: 4 }, { address: '169.254.169.254', family: 4 }],
    });
    const failure = await refusal(copy(policy, 'https://pbxt.replicate.delivery/out.png'));
    expect(failure).toMatchObject({ type: 'output_url_refused', nonRetryable: true });
  });

  it('when a name has been checked, then the connection goes to the checked address, not to a new DNS answer', async () => {
    const origin = await serve((_req, res) => res.end(png));
    let lookups = 0;
    // "outputs.invalid" exists nowhere: only the checked address can be what the copy connected to.
    const policy = testPolicy({
      allowedHosts: ['outputs.invalid'],
      resolve: async () => {
        lookups++;
        return [{ address: '127.0.0.1', family: 4 }];
      },
    });
    const out = await copy(policy, `http://outputs.invalid:${origin.port}/out.png`);
    expect(out.contentType).toBe('image/png');
    expect(lookups).toBe(1);
    expect(origin.hits).toEqual(['/out.png']);
  });

  it('when the provider stops sending, then the copy fails on the idle timeout and may be retried', async () => {
    const origin = await serve((_req, res) => {
      res.writeHead(200);
      res.write(png.subarray(0, 100));
    });
    const started = Date.now();
    const err = await copy(testPolicy({ idleTimeoutMs: 500 }), `${origin.origin}/stalled.png`).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).not.toBeInstanceOf(ApplicationFailure);
    expect(err?.message).toMatch(/sent nothing for 500 ms/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('when the output is gone (404), then the copy fails for good with output_expired', async () => {
    const origin = await serve((_req, res) => res.writeHead(404).end());
    const failure = await refusal(copy(testPolicy(), `${origin.origin}/gone.png`));
    expect(failure).toMatchObject({ type: 'output_expired', nonRetryable: true });
  });
});
