import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Knobs } from './knobs';
import type { Logger } from './logger';
import type { Stats } from './stats';

const DELIVERY_TIMEOUT_MS = 10_000;

/** A new signing secret in Replicate's format: "whsec_" + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-signature` header value Replicate (Standard Webhooks) sends:
 * "v1," + base64(HMAC-SHA256(key = base64-decoded secret after "whsec_", "<id>.<timestamp>.<body>")).
 */
export function signWebhook(secret: string, id: string, timestamp: number | string, body: string): string {
  const key = Buffer.from(secret.slice(secret.indexOf('_') + 1), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export interface WebhookMessage {
  /** Deliveries of one job are sent in order. */
  jobId: string;
  url: string;
  body: string;
  /** Terminal ("completed") webhooks are retried on failure; intermediate ones never are, like Replicate. */
  terminal: boolean;
  /** The `webhook-id`; a fresh one if absent (a resent webhook keeps its id, so receivers can deduplicate). */
  messageId?: string | undefined;
}

/** What became of a webhook: delivered (2xx), dropped (retries exhausted), suppressed (webhooks disabled) or abandoned (server closed). */
export type DeliveryOutcome = 'delivered' | 'dropped' | 'suppressed' | 'abandoned';

/** A Standard Webhooks message id like Replicate's "msg_…". */
export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('hex')}`;
}

interface WebhookSenderDeps {
  secret: string;
  knobs: Knobs;
  stats: Stats;
  logger: Logger;
}

/** Sends signed webhooks: per-job ordering, retries with exponential backoff, duplicate and drop knobs. */
export class WebhookSender {
  private readonly queues = new Map<string, Promise<void>>();
  private readonly closing = new AbortController();

  constructor(private readonly deps: WebhookSenderDeps) {}

  /**
   * Queues a delivery behind the job's earlier ones. Resolves with what became of it: "abandoned" means the
   * sender was closed first (a terminal webhook then stays owed and is resent after a restart).
   */
  send(message: WebhookMessage): Promise<DeliveryOutcome> {
    if (!this.deps.knobs.webhooks_enabled) {
      this.deps.stats.webhooks_suppressed++;
      return Promise.resolve('suppressed');
    }
    const previous = this.queues.get(message.jobId) ?? Promise.resolve();
    const outcome = previous.then(() => this.deliver(message, message.messageId ?? newMessageId()));
    const next = outcome.then(() => undefined);
    this.queues.set(message.jobId, next);
    void next.then(() => {
      if (this.queues.get(message.jobId) === next) this.queues.delete(message.jobId);
    });
    return outcome;
  }

  /** Stops retries and in-flight requests. */
  async close(): Promise<void> {
    this.closing.abort();
    await Promise.all(this.queues.values());
  }

  /** Never rejects. */
  private async deliver(message: WebhookMessage, messageId: string): Promise<DeliveryOutcome> {
    const { knobs, stats, logger } = this.deps;
    const attempts = message.terminal ? knobs.webhook_max_retries + 1 : 1;
    try {
      for (let attempt = 0; attempt < attempts; attempt++) {
        if (attempt > 0) await sleep(knobs.webhook_retry_base_ms * 2 ** (attempt - 1), undefined, { signal: this.closing.signal });
        if (await this.post(message, messageId)) return 'delivered';
      }
      stats.webhooks_dropped++;
      logger.warn({ jobId: message.jobId, url: message.url, attempts }, 'webhook delivery given up');
      return 'dropped';
    } catch {
      return 'abandoned';
    }
  }

  /** One delivery (sent twice with the same id when `duplicate_webhooks` is on); true if any copy got a 2xx. */
  private async post(message: WebhookMessage, messageId: string): Promise<boolean> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'replicate-local-webhooks/1.0',
      'webhook-id': messageId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signWebhook(this.deps.secret, messageId, timestamp, message.body),
    };
    const copies = this.deps.knobs.duplicate_webhooks ? 2 : 1;
    let delivered = false;
    for (let i = 0; i < copies; i++) {
      delivered = (await this.postOnce(message.url, headers, message.body)) || delivered;
    }
    return delivered;
  }

  private async postOnce(url: string, headers: Record<string, string>, body: string): Promise<boolean> {
    const { stats, logger } = this.deps;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.any([this.closing.signal, AbortSignal.timeout(DELIVERY_TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      if (response.ok) {
        stats.webhooks_sent++;
        return true;
      }
      logger.warn({ url, status: response.status }, 'webhook delivery failed');
    } catch (err) {
      this.closing.signal.throwIfAborted();
      logger.warn({ url, err: String(err) }, 'webhook delivery failed');
    }
    stats.webhook_deliveries_failed++;
    return false;
  }
}
