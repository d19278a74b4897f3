import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Replicate from 'replicate';
import { clientValidates, download, settledPrediction, startWebhookReceiver, waitFor, type ReceivedRequest } from './helpers';

const REPO_ROOT = path.resolve(__dirname, '../..');
const FLUX = 'black-forest-labs/flux-schnell';

/** A port that was free a moment ago (the server process needs a fixed one to be restarted on). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Runs main.ts in its own Node process (one process, so a SIGKILL hits the server itself) and waits until it answers. */
async function startServerProcess(env: Record<string, string>, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/replicate-local/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`server process exited with code ${child.exitCode}`);
    return fetch(`${url}/admin/stats`).then(
      (response) => response.ok,
      () => false,
    );
  }, 45_000);
  return child;
}

function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  return exited;
}

const isCompleted = (request: ReceivedRequest) => (JSON.parse(request.body) as { status: string }).status === 'succeeded';

test('when the server process is SIGKILLed mid-prediction, then a new process on the same data folder finishes it and delivers its completed webhook signed with the same secret', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'replicate-local-kill-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { REPLICATE_LOCAL_DATA_DIR: dataDir, REPLICATE_LOCAL_PORT: String(port), REPLICATE_LOCAL_HOST: '127.0.0.1' };
  const replicate = new Replicate({ auth: 'test-token', baseUrl: `${url}/v1` });
  const receiver = await startWebhookReceiver();
  let server: ChildProcess | undefined;
  try {
    server = await startServerProcess(env, url);
    const { key: secret } = await replicate.webhooks.default.secret.get();
    const created = await replicate.predictions.create({
      model: FLUX,
      input: { prompt: 'survives kill -9', fake_latency_ms: 3000 },
      webhook: receiver.url,
      webhook_events_filter: ['completed'],
    });
    await waitFor(async () => (await replicate.predictions.get(created.id)).status === 'processing');
    await stopProcess(server, 'SIGKILL');
    expect(server.signalCode).toBe('SIGKILL');
    expect(receiver.requests).toHaveLength(0);

    server = await startServerProcess(env, url);
    expect((await replicate.webhooks.default.secret.get()).key).toBe(secret);
    const done = await settledPrediction(replicate, created.id, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', input: created.input });
    const completed = await waitFor(() => receiver.requests.find(isCompleted), 30_000);
    expect(JSON.parse(completed.body)).toMatchObject({ id: created.id, output: done.output });
    expect(await clientValidates(completed, secret)).toBe(true);
    expect((await download((done.output as string[])[0]!)).status).toBe(200);
  } finally {
    if (server) await stopProcess(server, 'SIGTERM');
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 150_000);
