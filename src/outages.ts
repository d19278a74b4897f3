/**
 * Which dependency an error says is unreachable (or too slow), if any: the one place that knows
 * how Postgres (through Prisma and pg), Temporal (gRPC) and S3 (AWS SDK) report an outage. The
 * API answers these with 503 service_unavailable and Retry-After (src/http/errors.ts) instead of
 * a 500 or a hang. The shapes were taken from the real clients against a cut and a silent
 * network (test/ops/outages.test.ts).
 */
export type OutageComponent = 'postgres' | 'temporal' | 's3';

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  clientVersion?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown; originalCode?: unknown } } };
  $metadata?: { httpStatusCode?: unknown };
  $fault?: unknown;
}

/** The component an error (or one of its causes) says is unavailable; undefined for anything else. */
export function unavailableComponent(err: unknown): OutageComponent | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++, e = (e as ErrorLike).cause) {
    const error = e as ErrorLike;
    if (isS3Outage(error)) return 's3';
    if (isTemporalOutage(error)) return 'temporal';
    if (isPostgresOutage(error)) return 'postgres';
  }
  return undefined;
}

/**
 * Prisma's codes for "no database": P1001 cannot reach, P1002 timed out reaching, P1008
 * operation timed out, P1017 server closed the connection, P2024 no pool connection in time,
 * P2028 transaction API error (no connection to start a transaction in time, or it expired).
 */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028']);
/** What the pg driver adapter calls an unreachable or overloaded server. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/**
 * SQLSTATEs: class 08 connection exceptions, class 57 operator intervention (57014 statement
 * timeout, 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P05 idle
 * session timeout), 53300 too_many_connections, 25P03 idle_in_transaction_session_timeout.
 */
const SQLSTATE = /^(08...|57...|53300|25P03)$/;
/** pg's own messages (plain Errors) for a connect timeout, a read timeout and a dead connection. */
const PG_MESSAGES =
  /^(Connection terminated unexpectedly|Connection terminated due to connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error and is not queryable)/;

function isPostgresOutage(e: ErrorLike): boolean {
  if (typeof e.clientVersion === 'string' && typeof e.code === 'string' && PRISMA_CODES.has(e.code)) return true;
  const adapter = e.meta?.driverAdapterError?.cause;
  if (adapter) {
    if (typeof adapter.kind === 'string' && ADAPTER_KINDS.has(adapter.kind)) return true;
    const sqlState = adapter.originalCode ?? adapter.code;
    if (typeof sqlState === 'string' && SQLSTATE.test(sqlState)) return true;
  }
  return typeof e.message === 'string' && PG_MESSAGES.test(e.message);
}

const GRPC_DEADLINE_EXCEEDED = 4;
const GRPC_UNAVAILABLE = 14;

/** A gRPC status from the Temporal client: the server cannot be reached, or did not answer in time. */
function isTemporalOutage(e: ErrorLike): boolean {
  return (e.code === GRPC_UNAVAILABLE || e.code === GRPC_DEADLINE_EXCEEDED) && typeof (e as { details?: unknown }).details === 'string';
}

/** Socket errors of a connection that failed or broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/**
 * The same failures named in a message: the SDK's retry step wraps a thrown value it does not
 * recognise as an Error (one from another VM realm, as under jest) in "AWS SDK error wrapper
 * for <its text>", keeping only the text.
 */
const NETWORK_FAILURE_IN_MESSAGE = new RegExp(`\\b(${[...NETWORK_CODES, 'TimeoutError'].join('|')})\\b`);

/**
 * An AWS SDK error (it carries `$metadata`) from the network, a client timeout (TimeoutError
 * from the request handler's deadlines, see createS3Client) or a 5xx answer of the service.
 */
function isS3Outage(e: ErrorLike): boolean {
  if (!e.$metadata || typeof e.$metadata !== 'object') return false;
  if (e.name === 'TimeoutError' || (typeof e.code === 'string' && NETWORK_CODES.has(e.code))) return true;
  if (typeof e.message === 'string' && NETWORK_FAILURE_IN_MESSAGE.test(e.message)) return true;
  const status = e.$metadata.httpStatusCode;
  return e.$fault === 'server' || (typeof status === 'number' && status >= 500);
}
