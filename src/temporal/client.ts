import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { Config } from '../config';

/** Connecting gives up after this, so a process whose Temporal is down fails its start in seconds. */
const CONNECT_TIMEOUT_MS = 5_000;
/** Every call, its retries included, ends with DEADLINE_EXCEEDED after this unless the caller set a deadline. */
const CALL_TIMEOUT_MS = 10_000;
/** An unavailable server is tried this often (about 1 s in all, for a blip), then reported: the API answers 503. */
const CALL_ATTEMPTS = 4;
/** After the server comes back, the channel reconnects within this (gRPC's own backoff grows to 2 min). */
const MAX_RECONNECT_BACKOFF_MS = 2_000;

type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];

/**
 * The SDK's retry interceptor with fewer attempts, given a deadline first when the call has
 * none: the retries reuse the call's options, so the one deadline bounds them all and no call
 * waits forever on a silent server.
 */
function retryWithinDeadline(ms: number, maxAttempts: number): GrpcInterceptor {
  const retry = makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts }));
  return (options, nextCall) => retry({ ...options, deadline: options.deadline ?? Date.now() + ms }, nextCall);
}

/**
 * One Temporal client per process, created at start-up and closed on shutdown. It fails fast:
 * a bounded connect, a deadline on every call, and a few quick retries of UNAVAILABLE instead
 * of the SDK's ~20 s of them.
 */
export async function createTemporalClient(cfg: Config['temporal']): Promise<Client> {
  const connection = await Connection.connect({
    address: cfg.address,
    connectTimeout: CONNECT_TIMEOUT_MS,
    interceptors: [retryWithinDeadline(CALL_TIMEOUT_MS, CALL_ATTEMPTS)],
    channelArgs: { 'grpc.max_reconnect_backoff_ms': MAX_RECONNECT_BACKOFF_MS },
  });
  return new Client({ connection, namespace: cfg.namespace });
}
