import type { Db } from '../db/client';
import type { Tx } from '../db/transaction';
import type { WebhookEndpoint } from '../generated/prisma/client';
import { admit, afterFailure, afterSuccess, claimProbe, CLOSED, endpointStatus, type Admission, type BreakerSettings, type EndpointState } from './breaker';

/**
 * The webhook endpoints' breaker state in Postgres (`webhook_endpoints`, one row per account and
 * URL, created on the first delivery). Every transition reads and writes the row under its lock,
 * so concurrent deliveries to one endpoint see one state: one probe after a pause, one count of
 * failures.
 */

export interface Endpoint {
  id: string;
  state: EndpointState;
}

/** Whether a delivery to the account's URL may post now; a probe is claimed for `attemptMs`. */
export async function admitDelivery(db: Db, userId: string, url: string, settings: BreakerSettings, attemptMs: number): Promise<{ endpoint: Endpoint; admission: Admission }> {
  return db.$transaction(async (tx) => {
    const row = await lockEndpoint(tx, userId, url);
    const now = new Date();
    const state = stateOf(row);
    const admission = admit(state, now, settings);
    if (admission.action === 'post' && admission.probe) await write(tx, row.id, claimProbe(state, now, attemptMs));
    return { endpoint: { id: row.id, state }, admission };
  });
}

/** Records a failed attempt; the endpoint's state after it (paused, or disabled, or neither yet). */
export async function recordFailure(db: Db, endpointId: string, error: string, settings: BreakerSettings, probe: boolean): Promise<EndpointState> {
  return db.$transaction(async (tx) => {
    const row = await tx.$queryRaw<WebhookEndpoint[]>`SELECT id FROM "webhook_endpoints" WHERE "id" = ${endpointId}::uuid FOR UPDATE`;
    if (row.length === 0) return CLOSED;
    const now = new Date();
    const current = stateOf(await tx.webhookEndpoint.findUniqueOrThrow({ where: { id: endpointId } }));
    const next = afterFailure(current, now, settings, probe);
    await write(tx, endpointId, next, { lastFailureAt: now, lastError: error.slice(0, 500) });
    return next;
  });
}

/** Records a successful attempt: the breaker closes. */
export async function recordSuccess(db: Db, endpointId: string): Promise<void> {
  await db.$transaction(async (tx) => {
    const current = await tx.webhookEndpoint.findUnique({ where: { id: endpointId } });
    if (current) await write(tx, endpointId, afterSuccess(stateOf(current)), { lastSuccessAt: new Date() });
  });
}

/** The owner undoes a pause or a disable: the endpoint is closed again. Null when the account has no such endpoint. */
export async function reenableEndpoint(db: Db, userId: string, url: string): Promise<WebhookEndpoint | null> {
  const found = await db.webhookEndpoint.findUnique({ where: { userId_url: { userId, url } } });
  if (!found) return null;
  return db.webhookEndpoint.update({ where: { id: found.id }, data: { ...CLOSED, updatedAt: new Date() } });
}

export async function findEndpoint(db: Db, userId: string, url: string): Promise<WebhookEndpoint | null> {
  return db.webhookEndpoint.findUnique({ where: { userId_url: { userId, url } } });
}

/** An endpoint as the API shows it. */
export function endpointView(e: WebhookEndpoint, now = new Date()) {
  return {
    url: e.url,
    status: endpointStatus(stateOf(e), now),
    consecutive_failures: e.consecutiveFailures,
    failing_since: e.failingSince?.toISOString() ?? null,
    paused_until: e.pausedUntil && e.pausedUntil > now ? e.pausedUntil.toISOString() : null,
    disabled_at: e.disabledAt?.toISOString() ?? null,
    last_error: e.lastError,
    last_failure_at: e.lastFailureAt?.toISOString() ?? null,
    last_success_at: e.lastSuccessAt?.toISOString() ?? null,
  };
}

/** The endpoint's row, created if new, locked until the transaction ends. */
async function lockEndpoint(tx: Tx, userId: string, url: string): Promise<WebhookEndpoint> {
  await tx.$executeRaw`
    INSERT INTO "webhook_endpoints" ("user_id", "url") VALUES (${userId}::uuid, ${url})
    ON CONFLICT ("user_id", "url") DO UPDATE SET "updated_at" = "webhook_endpoints"."updated_at"`;
  return tx.webhookEndpoint.findUniqueOrThrow({ where: { userId_url: { userId, url } } });
}

function stateOf(row: WebhookEndpoint): EndpointState {
  return {
    consecutiveFailures: row.consecutiveFailures,
    pauses: row.pauses,
    failingSince: row.failingSince,
    pausedUntil: row.pausedUntil,
    probeUntil: row.probeUntil,
    disabledAt: row.disabledAt,
  };
}

async function write(tx: Tx, id: string, s: EndpointState, extra: Partial<Pick<WebhookEndpoint, 'lastFailureAt' | 'lastError' | 'lastSuccessAt'>> = {}): Promise<void> {
  await tx.webhookEndpoint.update({ where: { id }, data: { ...s, ...extra, updatedAt: new Date() } });
}
