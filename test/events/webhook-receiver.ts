import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
  answered: number;
  at: number;
}

/**
 * A webhook receiver on 127.0.0.1 for tests: records every POST per path and answers each
 * path's first `failFirst(path, n)` requests with 500, or every request with 500 while `down`.
 */
export async function startReceiver() {
  const received: Received[] = [];
  const failures = new Map<string, number>();
  let down = false;
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = req.url ?? '/';
    const left = failures.get(path) ?? 0;
    const answered = down || left > 0 ? 500 : 200;
    if (left > 0) failures.set(path, left - 1);
    const body = Buffer.concat(chunks).toString();
    received.push({ path, headers: req.headers, body, json: JSON.parse(body), answered, at: Date.now() });
    res.writeHead(answered).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    at: (path: string) => received.filter((r) => r.path === path),
    failFirst: (path: string, n: number) => failures.set(path, n),
    setDown: (value: boolean) => (down = value),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * A receiver that accepts every connection and never answers, as a hung server does. It keeps
 * each connection's open and close times, so a test can tell which attempts were still waiting
 * at a given moment and how many were ever open at once.
 */
export async function startSilentReceiver() {
  const connections: Array<{ openedAt: number; closedAt?: number }> = [];
  let open = 0;
  let maxOpen = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn: { openedAt: number; closedAt?: number } = { openedAt: Date.now() };
    connections.push(conn);
    sockets.add(socket);
    maxOpen = Math.max(maxOpen, ++open);
    socket.on('data', () => undefined); // read the request, answer nothing
    socket.once('close', () => {
      conn.closedAt = Date.now();
      open--;
      sockets.delete(socket);
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: (path: string) => `${base}${path}`,
    connections: () => connections.slice(),
    /** Connections opened before `before` and not closed yet. */
    openSince: (before: number) => connections.filter((c) => c.openedAt < before && c.closedAt === undefined),
    maxOpen: () => maxOpen,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}
