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
 * Where free ports are picked: below Linux's ephemeral range (32768–60999), from which the kernel
 * hands out ports for outgoing connections and listen(0). A port picked there can be taken by any
 * outgoing connection before our child binds it, seconds later (a worker restarted after a kill
 * binds its metrics port again); below it, only another picker could take it.
 */
const PICK_FROM = 20_000;
const PICK_TO = 32_000;

/**
 * `count` distinct ports on `host` that are free now: random ports of PICK_FROM–PICK_TO, each
 * checked by binding it. The caller's child binds them later.
 */
export async function findFreePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const picked = new Set<number>();
  for (let tries = 0; picked.size < count; tries++) {
    if (tries > 50 * count) throw new Error(`no ${count} free ports between ${PICK_FROM} and ${PICK_TO} on ${host}`);
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM));
    if (!picked.has(port) && !(await isPortInUse(port, host))) picked.add(port);
  }
  return [...picked];
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
