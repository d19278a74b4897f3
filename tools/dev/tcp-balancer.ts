/**
 * A small TCP load balancer for the local production topology: one address for clients in front of
 * several copies of a service (the two Temporal frontends, the two API processes), the way a cloud
 * load balancer or a Kubernetes Service would stand in front of them.
 *
 * Each new connection goes to the next target in turn; a target that refuses the connection (its
 * process is down) is skipped and the next one tried, so clients only notice a dead copy through the
 * connections they had open to it. Bytes are piped as they are: HTTP/1.1, HTTP/2 and gRPC all work.
 */
import net from 'node:net';

export interface Target {
  host: string;
  port: number;
}

export interface TcpBalancer {
  /** host:port clients connect to. */
  address: string;
  close(): Promise<void>;
}

export interface BalancerOptions {
  host: string;
  port: number;
  targets: Target[];
  /** Gives up on a target that neither accepts nor refuses within this (default 2 s). */
  connectTimeoutMs?: number;
}

export async function startTcpBalancer(opts: BalancerOptions): Promise<TcpBalancer> {
  const connectTimeoutMs = opts.connectTimeoutMs ?? 2000;
  let next = 0;
  const open = new Set<net.Socket>();

  /** Connects to the targets from the next one in turn; undefined when none accepts. */
  const connectUpstream = async (): Promise<net.Socket | undefined> => {
    const first = next;
    next = (next + 1) % opts.targets.length;
    for (let i = 0; i < opts.targets.length; i++) {
      const target = opts.targets[(first + i) % opts.targets.length]!;
      const socket = await connectOnce(target, connectTimeoutMs);
      if (socket) return socket;
    }
    return undefined;
  };

  const server = net.createServer((client) => {
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    void connectUpstream().then((upstream) => {
      if (!upstream) return client.destroy();
      if (client.destroyed) return upstream.destroy();
      open.add(upstream);
      upstream.once('close', () => open.delete(upstream));
      upstream.on('error', () => upstream.destroy());
      upstream.setNoDelay(true);
      client.setNoDelay(true);
      client.pipe(upstream);
      upstream.pipe(client);
      // either side ending or failing ends both: a dead target's connections fail fast
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
      client.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: opts.host, port: opts.port, exclusive: true }, () => resolve());
  });
  return {
    address: `${opts.host}:${opts.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function connectOnce(target: Target, timeoutMs: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const fail = () => {
      socket.destroy();
      resolve(undefined);
    };
    socket.setTimeout(timeoutMs, fail);
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      resolve(socket);
    });
  });
}
