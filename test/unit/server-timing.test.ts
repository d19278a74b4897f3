import { checkParameters, fieldSchema, offeredFields, type ModelContract } from '../../src/catalog/contract';
import { modelContract } from '../../src/catalog/service';
import { parseServerTiming, serverTimingHeader } from '../../src/http/server-timing';
import { phase, Phases } from '../../src/shared/phases';
import { installLocalDevHooks } from '../../tools/dev/local-dev-hooks';

describe('Server-Timing', () => {
  it('records each phase, also one that throws, and parses back to durations', async () => {
    const timing = new Phases();
    await timing.time('db', async () => new Promise((resolve) => setTimeout(resolve, 20)));
    await expect(timing.time('temporal', async () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(serverTimingHeader(timing)).toMatch(/^db;dur=\d+\.\d, temporal;dur=\d+\.\d$/);
    const parsed = parseServerTiming(serverTimingHeader(timing));
    expect(Object.keys(parsed)).toEqual(['db', 'temporal']);
    expect(parsed.db).toBeGreaterThanOrEqual(15);
  });

  it('when a service marks its phases, then each request records its own, and a call outside a request records nothing', async () => {
    const service = async (ms: number) => {
      await phase('db', () => new Promise((resolve) => setTimeout(resolve, ms)));
      return phase('temporal', async () => ms);
    };
    const [a, b] = [new Phases(), new Phases()];
    expect(await Promise.all([a.record(() => service(30)), b.record(() => service(1))])).toEqual([30, 1]);
    expect([a, b].map((p) => p.entries.map((e) => e.name))).toEqual([['db', 'temporal'], ['db', 'temporal']]);
    expect(a.entries[0]!.ms).toBeGreaterThanOrEqual(25);
    expect(b.entries[0]!.ms).toBeLessThan(25);
    expect(await service(1)).toBe(1);
    expect([a, b].map((p) => p.entries.length)).toEqual([2, 2]);
  });

  it('ignores entries without a duration and a missing header', () => {
    expect(parseServerTiming('cache;desc="hit", db;dur=4.5;desc="accept"')).toEqual({ db: 4.5 });
    expect(parseServerTiming(undefined)).toEqual({});
  });
});

describe('contract schemas are built once', () => {
  const contract: ModelContract = {
    input: {
      steps: { type: 'integer', description: 'steps', minimum: 1, maximum: 4, default: 4 },
      debug: { type: 'boolean', description: 'dev only', dev_only: true },
    },
    protectedInput: { disable_safety_checker: false },
  };

  it('when the same spec is checked again, then the same schema answers, with the same verdicts', () => {
    expect(fieldSchema(contract.input.steps!)).toBe(fieldSchema(contract.input.steps!));
    for (let i = 0; i < 2; i++) {
      expect(checkParameters(contract, { steps: 5 }, { devKnobs: false }).issues).toEqual([{ field: 'parameters.steps', message: expect.stringMatching(/4/) }]);
      expect(checkParameters(contract, { steps: 2 }, { devKnobs: false })).toEqual({ input: { steps: 2, disable_safety_checker: false }, issues: [] });
    }
  });

  it('keeps the offered fields with and without the dev knobs apart', () => {
    installLocalDevHooks();
    const dev = offeredFields(contract.input, true);
    const prod = offeredFields(contract.input, false);
    expect(Object.keys(prod)).toEqual(['steps']);
    expect(Object.keys(dev)).toEqual(expect.arrayContaining(['steps', 'debug', 'fake_latency_ms']));
    expect(offeredFields(contract.input, true)).toBe(dev);
    expect(offeredFields(contract.input, false)).toBe(prod);
    expect(checkParameters(contract, { debug: true }, { devKnobs: false }).issues).toHaveLength(1);
    expect(checkParameters(contract, { debug: true }, { devKnobs: true }).issues).toEqual([]);
  });

  it('parses a catalog model row once per row object', () => {
    const row = { inputContract: contract.input, protectedInput: contract.protectedInput } as Parameters<typeof modelContract>[0];
    expect(modelContract(row)).toBe(modelContract(row));
    expect(modelContract({ ...row })).toEqual(modelContract(row));
  });
});
