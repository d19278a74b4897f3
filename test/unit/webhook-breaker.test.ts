import { admit, afterFailure, afterSuccess, claimProbe, CLOSED, endpointStatus, pauseMs, type BreakerSettings, type EndpointState } from '../../src/webhooks-out/breaker';

/** The per-endpoint circuit breaker of outbound webhooks, as pure transitions over a clock we move by hand. */
const settings: BreakerSettings = { failures: 3, pauseMinMs: 60_000, pauseMaxMs: 3_600_000, disableAfterMs: 3 * 24 * 3_600_000 };
const t0 = new Date('2026-12-01T00:00:00Z');
const at = (ms: number) => new Date(t0.getTime() + ms);

/** `n` failed attempts at `when`, none of them a probe. */
function fail(s: EndpointState, n: number, when: Date): EndpointState {
  for (let i = 0; i < n; i++) s = afterFailure(s, when, settings, false);
  return s;
}

describe('the webhook endpoint circuit breaker', () => {
  it('when fewer attempts than the threshold have failed in a row, then deliveries keep posting', () => {
    const s = fail(CLOSED, 2, t0);
    expect(admit(s, t0, settings)).toEqual({ action: 'post', probe: false });
    expect(endpointStatus(s, t0)).toBe('active');
    expect(s.failingSince).toEqual(t0);
  });

  it('when the threshold is reached, then the endpoint is paused for the first pause and deliveries wait until it ends without posting', () => {
    const s = fail(CLOSED, 3, t0);
    expect(s.pausedUntil).toEqual(at(60_000));
    expect(endpointStatus(s, at(1000))).toBe('paused');
    expect(admit(s, at(1000), settings)).toEqual({ action: 'wait', until: at(60_000) });
  });

  it('when attempts that started before the pause fail during it, then the pause is not extended', () => {
    const s = fail(fail(CLOSED, 3, t0), 10, at(5000));
    expect(s.pausedUntil).toEqual(at(60_000));
    expect(s.pauses).toBe(1);
  });

  it('when a pause ends, then exactly one delivery probes the endpoint and the others wait for it', () => {
    const paused = fail(CLOSED, 3, t0);
    const now = at(61_000);
    expect(admit(paused, now, settings)).toEqual({ action: 'post', probe: true });
    const probing = claimProbe(paused, now, 10_000);
    expect(admit(probing, now, settings)).toEqual({ action: 'wait', until: at(71_000) });
    // A probe that never reported back (its worker died) frees the endpoint once its time is up.
    expect(admit(probing, at(71_001), settings)).toEqual({ action: 'post', probe: true });
  });

  it('when probes keep failing, then each pause doubles up to the maximum', () => {
    let s = fail(CLOSED, 3, t0);
    const pauses: number[] = [];
    let now = t0;
    for (let i = 0; i < 9; i++) {
      pauses.push(s.pausedUntil!.getTime() - now.getTime());
      now = new Date(s.pausedUntil!.getTime() + 1);
      s = afterFailure(claimProbe(s, now, 10_000), now, settings, true);
      expect(s.probeUntil).toBeNull();
    }
    expect(pauses).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000, 3_600_000]);
    expect(pauseMs(100, settings)).toBe(3_600_000);
  });

  it('when a delivery succeeds, then the breaker closes and the next failures count from zero', () => {
    const paused = fail(CLOSED, 3, t0);
    const closed = afterSuccess(claimProbe(paused, at(61_000), 10_000));
    expect(closed).toEqual(CLOSED);
    expect(admit(closed, at(61_000), settings)).toEqual({ action: 'post', probe: false });
    expect(fail(closed, 3, at(62_000)).pausedUntil).toEqual(at(122_000));
  });

  it('when every attempt has failed for the disable period, then the endpoint is disabled and stays so, even after a late success', () => {
    let s = fail(CLOSED, 3, t0);
    s = afterFailure(s, at(settings.disableAfterMs - 1), settings, true);
    expect(s.disabledAt).toBeNull();
    s = afterFailure(s, at(settings.disableAfterMs), settings, true);
    expect(s.disabledAt).toEqual(at(settings.disableAfterMs));
    expect(endpointStatus(s, at(settings.disableAfterMs))).toBe('disabled');
    expect(admit(s, at(settings.disableAfterMs + 1), settings)).toEqual({ action: 'disabled', since: at(settings.disableAfterMs) });
    expect(afterSuccess(s).disabledAt).toEqual(at(settings.disableAfterMs));
  });

  it('when an endpoint failed long ago but succeeded since, then a new failure does not disable it', () => {
    const recovered = afterSuccess(fail(CLOSED, 3, t0));
    const s = fail(recovered, 3, at(settings.disableAfterMs * 2));
    expect(s.disabledAt).toBeNull();
    expect(s.failingSince).toEqual(at(settings.disableAfterMs * 2));
  });
});
