import type { Request, RequestHandler } from 'express';
import { Counter, Histogram } from 'prom-client';
import { ErrorCode } from '../errors';
import { checkMetricsToken } from './access';
import { METRIC_PREFIX, registry, renderMetrics } from './registry';

/**
 * HTTP metrics by Express route pattern (`/api/v1/status/:job_id`, never the raw URL): a request
 * that matched no route is `unmatched`, so scanners cannot create series. Error codes are ours
 * (src/error-codes.ts), anything else is `other`.
 */
const labelsByStatus = ['method', 'route', 'status_code'] as const;

export const httpRequests = new Counter({
  name: `${METRIC_PREFIX}http_requests_total`,
  help: 'HTTP requests by method, route pattern and status code',
  labelNames: labelsByStatus,
  registers: [registry],
});

export const httpRequestDuration = new Histogram({
  name: `${METRIC_PREFIX}http_request_duration_seconds`,
  help: 'HTTP request latency (until the response is sent) by method, route pattern and status class',
  labelNames: ['method', 'route', 'status_class'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const httpErrors = new Counter({
  name: `${METRIC_PREFIX}http_request_errors_total`,
  help: 'HTTP responses with status >= 400 by method, route pattern, status code and error code',
  labelNames: [...labelsByStatus, 'code'] as const,
  registers: [registry],
});

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Records every request once, when its response finished (or the client went away: status 499).
 * Mount it first. The route pattern is captured when the router matches it, because Express
 * resets req.baseUrl when an error leaves the router.
 */
export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let route: string | undefined;
    let matched: Request['route'];
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => matched,
      set: (value: Request['route']) => {
        matched = value;
        if (value?.path !== undefined) route = `${req.baseUrl}${String(value.path)}`;
      },
    });
    let errorCode: string | undefined;
    const json = res.json.bind(res);
    res.json = (body?: unknown) => {
      const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
      if (typeof code === 'string') errorCode = code;
      return json(body);
    };

    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const status = res.writableFinished ? res.statusCode : 499;
      const method = METHODS.has(req.method) ? req.method : 'OTHER';
      const labels = { method, route: route ?? UNMATCHED_ROUTE, status_code: String(status) };
      httpRequests.inc(labels);
      httpRequestDuration.observe(
        { method, route: labels.route, status_class: `${Math.floor(status / 100)}xx` },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
      if (status >= 400) httpErrors.inc({ ...labels, code: errorCode && KNOWN_CODES.has(errorCode) ? errorCode : 'other' });
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/** GET /metrics in Prometheus text format; with a token configured, only for `Authorization: Bearer <token>` (src/metrics/access.ts). */
export function metricsHandler(token?: string): RequestHandler {
  return async (req, res) => {
    checkMetricsToken(token, req.headers.authorization);
    const { contentType, body } = await renderMetrics();
    res.set('Content-Type', contentType).set('Cache-Control', 'no-store').send(body);
  };
}
