import type { Db } from '../db/client';

/**
 * Where queued work stands: how much provider work is ahead of a queued job, prompt or
 * training, and when it should start, as fal shows `queue_position`.
 *
 * Cheap by design: one query per API process per `maxAgeMs` (default 1 s) reads every queued
 * item's account and arrival time (index scans on status), however many clients poll or
 * stream; each answer is then computed in memory from that snapshot.
 *
 * The estimate follows how the provider queues dispatch (src/temporal/priority.ts): interactive
 * work (jobs, prompts) before trainings, and within a lane the accounts with a backlog in turn
 * (Temporal's fairness), so an item that is k-th in its own account's line waits for its own
 * k predecessors and for up to k + 1 items of each other account in its lane (a whole round),
 * plus, for a training, every queued interactive item. Divided by the provider create rate
 * (REPLICATE_CREATE_RATE_PER_SECOND) this gives the estimated start. It is an estimate: a
 * provider 429 or a slow worker moves it later, work finishing early moves it sooner.
 */
export type Lane = 'interactive' | 'training';

/** Training statuses before the provider has the training: still in line for the provider create queue. */
export const BEFORE_PROVIDER: ReadonlySet<string> = new Set(['queued', 'validating', 'uploading']);

export interface QueuedItem {
  lane: Lane;
  userId: string;
  createdAt: Date;
}

export interface QueuePosition {
  /** Provider work items expected to be dispatched before this one. */
  ahead: number;
  /** When it should reach the provider, at the configured create rate. */
  estimated_start_at: string;
}

export interface Snapshot {
  takenAt: number;
  /** Per lane, per account: arrival times (ms) of its queued items, ascending. */
  lanes: Record<Lane, Map<string, number[]>>;
}

export interface QueueBoard {
  /** Where a queued item stands now; null when it is not queued. */
  position(item: QueuedItem & { queued: boolean }): Promise<QueuePosition | null>;
}

export function createQueueBoard(deps: { db: Db; createRatePerSecond: number; maxAgeMs?: number; now?: () => number }): QueueBoard {
  const maxAgeMs = deps.maxAgeMs ?? 1_000;
  const now = deps.now ?? Date.now;
  let current: Snapshot | undefined;
  let refreshing: Promise<Snapshot> | undefined;

  async function read(): Promise<Snapshot> {
    const rows = await deps.db.$queryRaw<{ lane: Lane; user_id: string; created_at: Date }[]>`
      SELECT 'interactive' AS lane, user_id::text, created_at FROM jobs WHERE status = 'queued'
      UNION ALL
      SELECT 'interactive', user_id::text, created_at FROM prompts WHERE status = 'queued'
      UNION ALL
      SELECT 'training', user_id::text, created_at FROM model_versions WHERE status IN ('queued', 'validating', 'uploading')`;
    const lanes: Snapshot['lanes'] = { interactive: new Map(), training: new Map() };
    for (const r of rows) {
      const line = lanes[r.lane].get(r.user_id) ?? [];
      line.push(r.created_at.getTime());
      lanes[r.lane].set(r.user_id, line);
    }
    for (const lane of Object.values(lanes)) for (const line of lane.values()) line.sort((a, b) => a - b);
    return { takenAt: now(), lanes };
  }

  async function snapshot(): Promise<Snapshot> {
    if (current && now() - current.takenAt < maxAgeMs) return current;
    refreshing ??= read().finally(() => (refreshing = undefined));
    current = await refreshing;
    return current;
  }

  return {
    async position(item) {
      if (!item.queued) return null;
      return estimatePosition((await snapshot()).lanes, item, deps.createRatePerSecond, now());
    },
  };
}

/** The estimate itself (see the module comment), from a snapshot of the queued items' lines. */
export function estimatePosition(lanes: Snapshot['lanes'], item: QueuedItem, createRatePerSecond: number, now: number): QueuePosition {
  const arrived = item.createdAt.getTime();
  const own = lanes[item.lane].get(item.userId) ?? [];
  const rank = own.filter((t) => t < arrived).length;
  let ahead = rank;
  for (const [userId, line] of lanes[item.lane]) if (userId !== item.userId) ahead += Math.min(line.length, rank + 1);
  if (item.lane === 'training') for (const line of lanes.interactive.values()) ahead += line.length;
  const waitMs = Math.ceil((ahead / createRatePerSecond) * 1000);
  return { ahead, estimated_start_at: new Date(now + waitMs).toISOString() };
}
