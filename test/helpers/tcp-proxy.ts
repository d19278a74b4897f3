import net from 'node:net';

/**
 * A TCP proxy on a loopback port in front of a real service (Postgres, Temporal, MinIO), for
 * outage tests: point the service's address at the proxy, then take the network away.
 *
 *   cut()      the service is gone: open connections are reset, new ones refused (a dead process)
 *   hang()     the network is silent: connections are accepted, nothing goes through either way
 *   restore()  traffic flows again, on the same port
 */
export interface TcpProxy {
  readonly port: number;
  /** host:port of the proxy, for gRPC addresses. */
  readonly address: string;
  cut(): Promise<void>;
  hang(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

type Mode = 'forward' | 'hang' | 'cut';

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: Mode = 'forward';
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined); // resets are the point of this proxy
  };

  const server = net.createServer((client) => {
    track(client);
    if (mode !== 'forward') return; // hang: accepted, never answered
    const upstream = net.connect(target);
    track(upstream);
    // Data only flows while forwarding: a hang() stops it mid-connection too.
    client.on('data', (chunk) => mode === 'forward' && upstream.write(chunk));
    upstream.on('data', (chunk) => mode === 'forward' && client.write(chunk));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;

  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
  };
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));

  return {
    port,
    address: `127.0.0.1:${port}`,
    async cut() {
      mode = 'cut';
      const closed = stopListening();
      resetAll();
      await closed;
    },
    hang() {
      mode = 'hang';
    },
    async restore() {
      // connections accepted during a hang never carried anything: drop them, as a real timeout would
      if (mode === 'hang') resetAll();
      if (!server.listening) await listen(port);
      mode = 'forward';
    },
    async close() {
      mode = 'cut';
      const closed = stopListening();
      resetAll();
      await closed;
    },
  };
}
