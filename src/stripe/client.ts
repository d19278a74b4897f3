import Stripe from 'stripe';
import type { Config } from '../config';

export type { Stripe };

/** The Stripe SDK; STRIPE_API_BASE points it at stripe-mock locally and in tests. */
export function createStripe(cfg: Config['stripe']): Stripe {
  const base = cfg.apiBase ? new URL(cfg.apiBase) : undefined;
  return new Stripe(cfg.secretKey, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    ...(base
      ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.replace(':', '') as 'http' | 'https' }
      : {}),
  });
}
