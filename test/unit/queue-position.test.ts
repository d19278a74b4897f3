import { estimatePosition, type Snapshot } from '../../src/queue/board';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const t = (s: number) => NOW - 100_000 + s * 1000;
const lanes = (interactive: Record<string, number[]>, training: Record<string, number[]> = {}): Snapshot['lanes'] => ({
  interactive: new Map(Object.entries(interactive).map(([k, v]) => [k, v.map(t)])),
  training: new Map(Object.entries(training).map(([k, v]) => [k, v.map(t)])),
});

describe('estimating where queued work stands', () => {
  it("when one account has a long line and another arrives with one job, then the newcomer waits for about one round, not for the whole line", () => {
    const board = lanes({ flood: Array.from({ length: 100 }, (_, i) => i), single: [200] });
    const single = estimatePosition(board, { lane: 'interactive', userId: 'single', createdAt: new Date(t(200)) }, 10, NOW);
    const lastOfFlood = estimatePosition(board, { lane: 'interactive', userId: 'flood', createdAt: new Date(t(99)) }, 10, NOW);
    expect(single.ahead).toBe(1);
    expect(lastOfFlood.ahead).toBe(99 + 1);
    expect(single.estimated_start_at).toBe(new Date(NOW + 100).toISOString());
  });

  it('when the item arrived after the snapshot, then everything of its account in the snapshot is ahead of it', () => {
    const board = lanes({ a: [1, 2, 3], b: [1, 2, 3, 4, 5] });
    expect(estimatePosition(board, { lane: 'interactive', userId: 'a', createdAt: new Date(NOW) }, 1, NOW).ahead).toBe(3 + 4);
  });

  it('when a training waits, then every queued interactive item is ahead of it as well as its share of the training lane', () => {
    const board = lanes({ a: [1, 2], b: [3] }, { c: [1], d: [2] });
    const training = estimatePosition(board, { lane: 'training', userId: 'd', createdAt: new Date(t(2)) }, 2, NOW);
    expect(training.ahead).toBe(3 + 1);
    expect(training.estimated_start_at).toBe(new Date(NOW + 2000).toISOString());
  });
});
