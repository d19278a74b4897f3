import { wakesDelivery } from '../../src/events/record';

/** When a committed change wakes its resource's webhook delivery workflow (one signal-with-start each). */
describe('wakesDelivery', () => {
  it('when the webhook takes every event (no filter), then any recorded event wakes it', () => {
    expect(wakesDelivery([], ['status'])).toBe(true);
    expect(wakesDelivery([], ['output', 'completed'])).toBe(true);
  });

  it('when the filter leaves out what the change recorded, then it is not woken: it would find nothing to deliver', () => {
    expect(wakesDelivery(['completed'], ['status'])).toBe(false);
    expect(wakesDelivery(['start'], ['output', 'output'])).toBe(false);
    expect(wakesDelivery(['output', 'completed'], ['progress'])).toBe(false);
  });

  it('when the filter lets one of the recorded events through, then it is woken', () => {
    expect(wakesDelivery(['start'], ['status'])).toBe(true);
    expect(wakesDelivery(['output'], ['output', 'completed'])).toBe(true);
    expect(wakesDelivery(['logs'], ['progress'])).toBe(true);
  });

  it('when the change recorded `completed`, then it is woken even if the filter leaves it out: the delivery workflow ends on it', () => {
    expect(wakesDelivery(['start'], ['completed'])).toBe(true);
  });

  it('when the change recorded nothing (a retry whose first attempt committed), then it is woken again, in case that wake-up was lost', () => {
    expect(wakesDelivery(['completed'], [])).toBe(true);
  });
});
