import { timingSafeEqual } from 'node:crypto';
import type { Config } from '../config';
import { AppError } from '../errors';

/**
 * Who may read our metrics: one rule for the API's GET /metrics and the worker's metrics server
 * (src/metrics/server.ts), since both listen on every interface in docker-compose.yml and the
 * series name routes, activity types and volumes. In production the endpoint exists only with
 * METRICS_TOKEN set (without it, /metrics is a 404 like any unknown path); wherever a token is set,
 * only `Authorization: Bearer <METRICS_TOKEN>` reads it.
 */
export interface MetricsAccess {
  /** False: there is no /metrics (404). */
  served: boolean;
  /** Set: the bearer token every read must carry. */
  token?: string;
}

export function metricsAccess(config: Pick<Config, 'env' | 'metrics'>): MetricsAccess {
  const { token } = config.metrics;
  return token ? { served: true, token } : { served: config.env !== 'production' };
}

/** Throws 401 unauthorized unless `authorization` is `Bearer <token>` (compared in constant time); no token = anyone. */
export function checkMetricsToken(token: string | undefined, authorization: string | undefined): void {
  if (!token) return;
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(authorization ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw AppError.unauthorized('Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>"');
  }
}
