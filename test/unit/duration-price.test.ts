import { creditsFor, FILE_DURATION, needsFileDuration, priceQuantities, priceSummary, unitCredits } from '../../src/catalog/service';

/** resemble-enhance as the catalog seeds it: 1 credit per run for each started 15 s of the recording, at most 10 minutes. */
const enhance = { priceUnit: 'run' as const, priceCredits: 1, priceScale: { fields: [FILE_DURATION], step: 15, unit: 'seconds' }, fileMaxSeconds: 600 };
const file = (seconds: number) => ({ durationMs: Math.round(seconds * 1000) });

describe('a price per started 15 seconds of the input file', () => {
  it.each([
    [0, 1],
    [2.5, 1],
    [15, 1],
    [15.001, 2],
    [30, 2],
    [60, 4],
    [599.999, 40],
    [600, 40],
  ])('when the recording is %d s, then %i credits', (seconds, credits) => {
    expect(creditsFor(enhance, 1, {}, file(seconds))).toBe(credits);
  });

  it('when the job stores its unit price at accept, then settling it without the file charges exactly what was reserved', () => {
    for (const seconds of [1, 30, 61, 600]) {
      const reserved = creditsFor(enhance, 1, { denoise_flag: true }, file(seconds));
      const stored = { priceUnit: enhance.priceUnit, priceCredits: unitCredits(enhance, { denoise_flag: true }, file(seconds)) };
      // The workflow settles with the outputs it stored: one for a per-run price, whatever it is.
      expect([creditsFor(stored, 1), creditsFor(stored, 0)]).toEqual([reserved, reserved]);
    }
  });

  it('when the duration is unknown, then pricing refuses to guess (the input check must refuse such a file first)', () => {
    expect(() => unitCredits(enhance, {}, { durationMs: null })).toThrow(/input_file\.duration/);
    expect(() => creditsFor(enhance, 1, {}, null)).toThrow(/input_file\.duration/);
  });

  it('when a quote explains the price, then it names the seconds the price was computed from', () => {
    expect(priceQuantities(enhance, {}, file(30.5))).toEqual({ [FILE_DURATION]: 30.5 });
    expect(priceQuantities({ priceUnit: 'output', priceCredits: 3, priceScale: { fields: ['width', 'height'], step: 1_048_576, unit: 'pixels' } }, { width: 1024, height: 512 })).toEqual({ width: 1024, height: 512 });
    expect(priceQuantities({ priceUnit: 'output', priceCredits: 2 }, {})).toBeNull();
  });

  it('when the catalog lists the model, then the rule reads in words', () => {
    expect(priceSummary(enhance)).toBe("1 credit per run for each started 15 seconds of the input file's duration");
  });

  it('when a model is bounded or priced by the duration, then it needs it; other models do not', () => {
    expect(needsFileDuration(enhance)).toBe(true);
    expect(needsFileDuration({ ...enhance, fileMaxSeconds: null })).toBe(true);
    expect(needsFileDuration({ priceScale: null, fileMaxSeconds: 300 })).toBe(true);
    expect(needsFileDuration({ priceScale: null, fileMaxSeconds: null })).toBe(false);
    expect(needsFileDuration({ priceScale: { fields: ['duration'], step: 10, unit: 'seconds' }, fileMaxSeconds: null })).toBe(false);
  });
});
