import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, ErrorCode, errorBody } from '../errors';
import { checkMetricsToken, type MetricsAccess } from './access';
import { renderMetrics } from './registry';

export interface MetricsServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server for processes without an API (the worker): GET /metrics answers the
 * registry in Prometheus text format, under the API's rule for /metrics (`access`, from
 * metricsAccess(config): in production only with METRICS_TOKEN, and then only for that bearer
 * token). Anything else is 404. Refusals carry the API's error body, `{ error: { code, message } }`.
 */
export async function startMetricsServer(opts: { host: string; port: number; access: MetricsAccess }): Promise<MetricsServer> {
  const { access } = opts;
  const server = http.createServer((req, res) => {
    const refuse = (status: number, code: string, message: string) =>
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(JSON.stringify(errorBody(code, message)));
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics' || !access.served) {
      refuse(404, ErrorCode.notFound, `No route for ${req.method} ${path}`);
      return;
    }
    try {
      checkMetricsToken(access.token, req.headers.authorization);
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      refuse(err.status, err.code, err.message);
      return;
    }
    renderMetrics().then(
      ({ contentType, body }) => res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' }).end(body),
      // As the API's 500s: no internals in the answer.
      () => refuse(500, ErrorCode.internal, 'The metrics could not be rendered'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
