/** Port helpers for the local stack: free-port selection, in-use checks, TCP/HTTP probes. */
import http from 'node:http';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

function listen(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * `count` distinct free ports on `host`: binds port 0 that many times at once (so the kernel
 * cannot hand out the same port twice), reads the ports, then closes the sockets. Another process
 * could still grab one before our child binds it; the window is milliseconds.
 */
export async function findFreePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listen(0, host));
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** True if something already listens on host:port (or we may not bind it). */
export async function isPortInUse(port: number, host = LOOPBACK): Promise<boolean> {
  try {
    await close(await listen(port, host));
    return false;
  } catch {
    return true;
  }
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(port: number, host = LOOPBACK, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Minimal HTTP GET (no keep-alive agent, so nothing stays open afterwards). Resolves the status. */
export function httpStatus(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 1000,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once('error', reject);
  });
}
