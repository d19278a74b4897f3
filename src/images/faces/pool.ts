import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { preparedPathOf } from '../prepare';
import type { AnalyzeOptions, PhotoAnalysis } from './analyze';
import type { ThreadReply, ThreadRequest } from './thread';

/**
 * A small pool of face-inspection threads, shared by every request of one process.
 * - The nets run in worker threads (thread.ts), never on the API's event loop; each thread loads
 *   the model once and analyzes one photo at a time, so memory is bounded by the thread count:
 *   about 120 MB of RSS a thread (bench row B8), most of it the WebAssembly heap (the weights and
 *   the activations; recognition.ts keeps no packed copy of the weights), which never shrinks while
 *   the thread lives.
 * - Fair share: each account has its own queue and the threads take photos from the accounts in
 *   turn, so one account's 30-photo sets never make another account wait behind all of them.
 * - Bounded: a request is admitted whole or refused at once (QueueFullError), when the process
 *   already holds `maxQueued` photos waiting, or the account `maxQueuedPerAccount`.
 * Threads start on first use; a thread that dies fails its photo and is replaced on the next one.
 */
export interface FaceInspectorOptions {
  threads: number;
  maxQueued: number;
  maxQueuedPerAccount: number;
  analyze: AnalyzeOptions;
}

export type PhotoOutcome = { ok: true; analysis: PhotoAnalysis } | { ok: false; error: string };

export interface FaceInspector {
  /**
   * Analyzes the photos (paths on local disk) for one account; answers in input order. With
   * `prepare`, each photo analyzed also gets its prepared training JPEG at preparedPathOf(path).
   */
  analyze(account: string, paths: string[], opts?: { prepare?: boolean }): Promise<PhotoOutcome[]>;
  /** Photos waiting and being analyzed now (for the bench and the tests). */
  stats(): { queued: number; running: number; threads: number };
  close(): Promise<void>;
}

export class QueueFullError extends Error {
  constructor(readonly scope: 'process' | 'account') {
    super(scope === 'process' ? 'The photo inspection queue is full' : 'This account already has photos waiting for inspection');
    this.name = 'QueueFullError';
  }
}

interface Task {
  path: string;
  preparedPath?: string;
  resolve(outcome: PhotoOutcome): void;
}

interface Slot {
  worker: Worker;
  ready: Promise<void>;
  busy?: { id: number; task: Task };
}

const ext = path.extname(__filename);

export function createFaceInspector(opts: FaceInspectorOptions): FaceInspector {
  /** Accounts in the order they take turns; each with its own FIFO. */
  const queues = new Map<string, Task[]>();
  let queued = 0;
  let nextId = 1;
  let closed = false;
  const slots: Array<Slot | undefined> = Array.from({ length: Math.max(1, opts.threads) }, () => undefined);

  function spawn(index: number): Slot {
    // Built code runs thread.js; from source (tsx, jest) the thread compiles thread.ts with tsx.
    const worker = new Worker(path.join(__dirname, `thread${ext}`), {
      execArgv: ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : [],
      // The thread's JavaScript objects are few and short-lived (the tensors live in the WebAssembly
      // heap): V8's default young generation only keeps more garbage resident. 8 MB lowered the
      // process's RSS growth by about 25 MB (bench row B8) with no measurable change in CPU a photo.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    const slot: Slot = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        worker.once('message', (m: { ready: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(m.error))));
        worker.once('error', reject);
      }),
    };
    slot.ready.catch(() => undefined);
    worker.on('message', (reply: ThreadReply | { ready: boolean }) => {
      if (!('id' in reply) || slot.busy?.id !== reply.id) return;
      const { task } = slot.busy;
      slot.busy = undefined;
      worker.unref();
      task.resolve(reply.ok ? { ok: true, analysis: reply.analysis } : { ok: false, error: reply.error });
      pump();
    });
    const lost = (reason: string) => {
      if (slots[index] === slot) slots[index] = undefined;
      const busy = slot.busy;
      slot.busy = undefined;
      busy?.task.resolve({ ok: false, error: reason });
      if (!closed) pump();
    };
    worker.on('error', (err) => lost(`the inspection thread failed: ${err.message}`));
    worker.on('exit', (code) => lost(`the inspection thread exited (${code})`));
    // An idle pool must not keep the process alive; a thread at work does (see pump).
    worker.unref();
    return slot;
  }

  /** The next task, taking accounts in turn: the first account's head, then it moves to the back. */
  function take(): Task | undefined {
    for (const [account, tasks] of queues) {
      const task = tasks.shift();
      queues.delete(account);
      if (tasks.length > 0) queues.set(account, tasks);
      if (task) {
        queued--;
        return task;
      }
    }
    return undefined;
  }

  function pump(): void {
    if (closed) return;
    for (let i = 0; i < slots.length && queued > 0; i++) {
      let slot = slots[i];
      if (slot?.busy) continue;
      slot ??= slots[i] = spawn(i);
      const task = take();
      if (!task) return;
      const id = nextId++;
      const current = slot;
      current.busy = { id, task };
      current.worker.ref();
      current.ready.then(
        () => current.worker.postMessage({ id, path: task.path, options: opts.analyze, preparedPath: task.preparedPath } satisfies ThreadRequest),
        (err: Error) => {
          current.busy = undefined;
          task.resolve({ ok: false, error: `the face model could not be loaded: ${err.message}` });
          void current.worker.terminate();
        },
      );
    }
  }

  return {
    analyze(account, paths, { prepare = false } = {}) {
      if (closed) return Promise.reject(new Error('the face inspector is closed'));
      if (paths.length === 0) return Promise.resolve([]);
      // A request larger than a bound is still admitted when nothing is waiting, so a bound below
      // one full set can never refuse every set.
      const mine = queues.get(account)?.length ?? 0;
      if (mine > 0 && mine + paths.length > opts.maxQueuedPerAccount) return Promise.reject(new QueueFullError('account'));
      if (queued > 0 && queued + paths.length > opts.maxQueued) return Promise.reject(new QueueFullError('process'));
      const outcomes = paths.map(
        (p) =>
          new Promise<PhotoOutcome>((resolve) => {
            const list = queues.get(account) ?? [];
            list.push({ path: p, resolve, ...(prepare ? { preparedPath: preparedPathOf(p) } : {}) });
            queues.set(account, list);
            queued++;
          }),
      );
      pump();
      return Promise.all(outcomes);
    },
    stats() {
      return { queued, running: slots.filter((s) => s?.busy).length, threads: slots.filter(Boolean).length };
    },
    async close() {
      closed = true;
      for (const tasks of queues.values()) for (const task of tasks) task.resolve({ ok: false, error: 'the service is shutting down' });
      queues.clear();
      queued = 0;
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
    },
  };
}
