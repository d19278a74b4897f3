import { createHash } from 'crypto';
import { mkdtemp, readdir, readFile, rm } from 'fs/promises';
import { createServer, request, type Server } from 'http';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import { join } from 'path';
import { MultipartError, receiveMultipart, type MultipartLimits } from '../../src/http/multipart';
import type { ReceivedUpload } from '../../src/shared/received-file';

const LIMITS: MultipartLimits = { maxFiles: 5, maxFileBytes: 10_000, maxTotalBytes: 100_000 };

/** What receiveMultipart did with the last request; the server answers 200 or 4xx accordingly. */
type Outcome = { upload: ReceivedUpload; contents: Buffer[] } | { error: unknown };

let server: Server;
let url: string;
let tmpRoot: string;
let limits: MultipartLimits;
let outcome: Promise<Outcome>;

beforeAll(async () => {
  server = createServer((req, res) => {
    outcome = receiveMultipart(req, { fileFields: ['images'], limits, tmpDir: tmpRoot }).then(
      async (upload) => {
        const contents = await Promise.all(upload.files.map((file) => readFile(file.path)));
        res.end('ok');
        return { upload, contents };
      },
      (error: unknown) => {
        res.statusCode = error instanceof MultipartError ? 400 : 500;
        res.setHeader('connection', 'close');
        res.end(error instanceof MultipartError ? error.code : 'internal');
        return { error };
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(async () => {
  limits = LIMITS;
  tmpRoot = await mkdtemp(join(tmpdir(), 'multipart-test-'));
});

afterEach(() => rm(tmpRoot, { recursive: true, force: true }));

function bytes(length: number, seed: number): Buffer {
  return Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seed) % 256));
}

function form(files: Array<{ name: string; content: Buffer; type?: string; field?: string }>, fields: Record<string, string> = {}): FormData {
  const body = new FormData();
  for (const [name, value] of Object.entries(fields)) body.append(name, value);
  for (const file of files) body.append(file.field ?? 'images', new Blob([file.content], { type: file.type ?? 'image/jpeg' }), file.name);
  return body;
}

/** Sends the form as a chunked stream, so there is no Content-Length to reject up front. */
async function sendChunked(body: FormData): Promise<Response> {
  const encoded = new Response(body);
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': encoded.headers.get('content-type')! },
    body: encoded.body,
    duplex: 'half',
  } as RequestInit);
}

async function expectRejected(code: string): Promise<void> {
  const result = await outcome;
  expect('error' in result && result.error).toMatchObject({ code, message: expect.any(String) });
  expect(await readdir(tmpRoot)).toEqual([]); // the upload's temp dir and files are gone
}

async function upload(): Promise<ReceivedUpload> {
  const result = await outcome;
  if ('error' in result) throw result.error;
  return result.upload;
}

describe('receiveMultipart', () => {
  it('streams several files to disk with their hashes, plus the text fields', async () => {
    const contents = [bytes(5000, 1), bytes(10_000, 2), bytes(1, 3)];
    const res = await fetch(url, {
      method: 'POST',
      body: form(
        contents.map((content, i) => ({ name: `photo-${i}.jpg`, content, type: i === 1 ? 'image/png' : 'image/jpeg' })),
        { modelName: 'Me, hiking', consent: 'yes' },
      ),
    });
    expect(res.status).toBe(200);
    const received = await upload();
    expect(received.fields).toEqual({ modelName: 'Me, hiking', consent: 'yes' });
    expect(received.files).toEqual(
      contents.map((content, i) => ({
        field: 'images',
        filename: `photo-${i}.jpg`,
        declaredType: i === 1 ? 'image/png' : 'image/jpeg',
        path: expect.stringContaining(received.dir),
        sizeBytes: content.length,
        sha256: createHash('sha256').update(content).digest('hex'),
        truncated: false,
      })),
    );
    expect((await outcome as { contents: Buffer[] }).contents).toEqual(contents);

    await received.cleanup();
    expect(await readdir(tmpRoot)).toEqual([]);
  });

  it('marks a file over maxFileBytes as truncated and keeps receiving the rest', async () => {
    const res = await fetch(url, {
      method: 'POST',
      body: form([
        { name: 'huge.jpg', content: bytes(25_000, 1) },
        { name: 'fine.jpg', content: bytes(2000, 2) },
      ]),
    });
    expect(res.status).toBe(200);
    const received = await upload();
    expect(received.files.map(({ filename, truncated, sizeBytes }) => ({ filename, truncated, sizeBytes }))).toEqual([
      { filename: 'huge.jpg', truncated: true, sizeBytes: LIMITS.maxFileBytes + 1 },
      { filename: 'fine.jpg', truncated: false, sizeBytes: 2000 },
    ]);
    await received.cleanup();
  });

  it('rejects more than maxFiles files and removes those already written', async () => {
    limits = { ...LIMITS, maxFiles: 2 };
    const res = await fetch(url, {
      method: 'POST',
      body: form([1, 2, 3].map((n) => ({ name: `${n}.jpg`, content: bytes(3000, n) }))),
    });
    expect(res.status).toBe(400);
    await expectRejected('too_many_files');
  });

  it('rejects a body declared larger than maxTotalBytes before reading it', async () => {
    limits = { ...LIMITS, maxTotalBytes: 20_000 };
    const res = await fetch(url, {
      method: 'POST',
      body: form([1, 2, 3].map((n) => ({ name: `${n}.jpg`, content: bytes(9000, n) }))),
    });
    expect(res.status).toBe(400);
    await expectRejected('payload_too_large');
  });

  it('rejects a streamed body once it passes maxTotalBytes, removing the files written so far', async () => {
    limits = { ...LIMITS, maxTotalBytes: 20_000 };
    const res = await sendChunked(form([1, 2, 3].map((n) => ({ name: `${n}.jpg`, content: bytes(9000, n) }))));
    expect(res.status).toBe(400);
    await expectRejected('payload_too_large');
  });

  it('rejects a request that is not multipart/form-data', async () => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"images":[]}' });
    expect(res.status).toBe(400);
    await expectRejected('not_multipart');
  });

  it('rejects multipart without a boundary, and a body that ends mid-form', async () => {
    await fetch(url, { method: 'POST', headers: { 'content-type': 'multipart/form-data' }, body: 'x' });
    await expectRejected('malformed_multipart');

    const body = '--XYZ\r\nContent-Disposition: form-data; name="images"; filename="a.jpg"\r\n\r\npartial data';
    await fetch(url, { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=XYZ' }, body });
    await expectRejected('malformed_multipart');
  });

  it('rejects a file in a field other than fileFields', async () => {
    const res = await fetch(url, {
      method: 'POST',
      body: form([
        { name: 'ok.jpg', content: bytes(100, 1) },
        { name: 'avatar.jpg', content: bytes(100, 2), field: 'avatar' },
      ]),
    });
    expect(res.status).toBe(400);
    await expectRejected('unexpected_field');
    expect(((await outcome) as { error: Error }).error.message).toContain('"avatar"');
  });

  it('rejects a text field longer than maxFieldBytes', async () => {
    limits = { ...LIMITS, maxFieldBytes: 10 };
    await fetch(url, { method: 'POST', body: form([], { modelName: 'a name that is too long' }) });
    await expectRejected('payload_too_large');
  });

  it('cleans up and rejects when the client disconnects mid-upload', async () => {
    const { port } = server.address() as AddressInfo;
    const client = request({
      port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/upload',
      headers: { 'content-type': 'multipart/form-data; boundary=XYZ', 'content-length': '100000' },
    });
    client.on('error', () => undefined);
    client.write('--XYZ\r\nContent-Disposition: form-data; name="images"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n');
    client.write(bytes(4000, 1));
    await new Promise((resolve) => setTimeout(resolve, 100)); // the server has started writing the file
    client.destroy();
    await expectRejected('aborted');
  });
});
