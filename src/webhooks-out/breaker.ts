import type { WebhookSettings } from '../config';

/**
 * The circuit breaker of one webhook endpoint (an account and the exact URL it gave), as pure
 * transitions; src/webhooks-out/endpoints.ts keeps the state in `webhook_endpoints`.
 *
 *   closed     fewer than `failures` consecutive failed attempts: every delivery posts
 *   paused     `failures` reached: nothing posts until `pausedUntil` (pauseMinMs, doubling with
 *              each pause of the same run of failures, at most pauseMaxMs)
 *   probing    the pause is over: one attempt at a time posts (it holds `probeUntil`); the others
 *              wait. Its failure pauses again, its success closes the breaker
 *   disabled   every attempt has failed for `disableAfterMs`: nothing posts, deliveries are given
 *              up, until the owner re-enables the endpoint
 *
 * A success anywhere closes the breaker (a disabled endpoint stays disabled until its owner
 * says otherwise). Failed attempts that were already under way when the endpoint was paused do
 * not extend the pause.
 */

export type BreakerSettings = WebhookSettings['breaker'];

export interface EndpointState {
  consecutiveFailures: number;
  pauses: number;
  failingSince: Date | null;
  pausedUntil: Date | null;
  probeUntil: Date | null;
  disabledAt: Date | null;
}

export type Admission =
  /** Post now; `probe`: the one attempt allowed after a pause (the caller holds probeUntil for it). */
  | { action: 'post'; probe: boolean }
  /** Do not post before `until` (the pause ends, or the probe under way has had its time). */
  | { action: 'wait'; until: Date }
  | { action: 'disabled'; since: Date };

export type EndpointStatus = 'active' | 'paused' | 'disabled';

export const CLOSED: EndpointState = { consecutiveFailures: 0, pauses: 0, failingSince: null, pausedUntil: null, probeUntil: null, disabledAt: null };

/** Whether a delivery to the endpoint may post now. */
export function admit(s: EndpointState, now: Date, settings: BreakerSettings): Admission {
  if (s.disabledAt) return { action: 'disabled', since: s.disabledAt };
  if (s.pausedUntil && s.pausedUntil > now) return { action: 'wait', until: s.pausedUntil };
  if (s.consecutiveFailures < settings.failures) return { action: 'post', probe: false };
  if (s.probeUntil && s.probeUntil > now) return { action: 'wait', until: s.probeUntil };
  return { action: 'post', probe: true };
}

/** The state once a probe is claimed for `holdMs` (as long as one attempt may take). */
export function claimProbe(s: EndpointState, now: Date, holdMs: number): EndpointState {
  return { ...s, probeUntil: new Date(now.getTime() + holdMs) };
}

/** The state after a failed attempt; `probe`: the attempt was the endpoint's probe. */
export function afterFailure(s: EndpointState, now: Date, settings: BreakerSettings, probe: boolean): EndpointState {
  const failingSince = s.failingSince ?? now;
  const next: EndpointState = { ...s, consecutiveFailures: s.consecutiveFailures + 1, failingSince, probeUntil: probe ? null : s.probeUntil };
  if (s.disabledAt || next.consecutiveFailures < settings.failures) return next;
  if (now.getTime() - failingSince.getTime() >= settings.disableAfterMs) return { ...next, disabledAt: now, pausedUntil: null, probeUntil: null };
  if (s.pausedUntil && s.pausedUntil > now) return next;
  return { ...next, pauses: s.pauses + 1, pausedUntil: new Date(now.getTime() + pauseMs(s.pauses, settings)) };
}

/** The state after a successful attempt: closed (a disabled endpoint stays disabled). */
export function afterSuccess(s: EndpointState): EndpointState {
  return { ...CLOSED, disabledAt: s.disabledAt };
}

/** The `n`th pause (0-based) of a run of failures: pauseMinMs doubling, at most pauseMaxMs. */
export function pauseMs(n: number, settings: BreakerSettings): number {
  return Math.min(settings.pauseMinMs * 2 ** Math.min(n, 30), settings.pauseMaxMs);
}

export function endpointStatus(s: EndpointState, now: Date): EndpointStatus {
  if (s.disabledAt) return 'disabled';
  return s.pausedUntil && s.pausedUntil > now ? 'paused' : 'active';
}
