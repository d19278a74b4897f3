/**
 * Child-process supervision for the local stack (tools/dev/stack.ts).
 *
 * - stdout/stderr of every child go straight to a log file (the child holds the file descriptor;
 *   no pipes through Node, so a child never blocks or gets SIGPIPE when the parent goes away).
 * - A child that exits while we wait for it to become ready fails the start with the tail of its log.
 * - Children must not outlive the parent:
 *     1. stop(): the stop signal (SIGTERM by default), then SIGKILL after a timeout.
 *     2. A process 'exit' handler SIGKILLs whatever is still running, synchronously. It runs on
 *        normal exit and process.exit(), but NOT when Node dies from an unhandled signal (SIGINT /
 *        SIGTERM without a handler) or from SIGKILL.
 *     3. For those cases, on Linux every child is started through util-linux `setpriv --pdeathsig`,
 *        i.e. prctl(PR_SET_PDEATHSIG): the kernel signals the child when its parent dies, however
 *        the parent dies. setpriv exec()s the real program, so the pid is the program's own.
 *        Caveat: the kernel fires this when the *thread* that spawned the child exits, so do not
 *        start the stack from a worker_thread that ends before the stack should.
 *        STACK_NO_PDEATHSIG=1 turns this off (children are then spawned directly).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface ChildSpec {
  /** Short name, used in errors and as the log file name. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  logFile: string;
  /** Truncate the log first (tests) instead of appending (persistent dev data). */
  truncateLog?: boolean;
  uid?: number;
  gid?: number;
  /** Signal for a graceful stop. Default SIGTERM (postgres: SIGINT = "fast shutdown"). */
  stopSignal?: NodeJS.Signals;
  /** Signal the kernel sends the child if this process dies (Linux, via setpriv). Default SIGKILL. */
  parentDeathSignal?: NodeJS.Signals;
}

const live = new Set<ManagedProcess>();
const exitCleanups = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) p.killNow();
    for (const fn of exitCleanups) {
      try {
        fn();
      } catch {
        /* best effort */
      }
    }
  });
}

/** Runs `fn` (synchronously) at process exit, after the children were killed; returns an unregister function. */
export function onExitSync(fn: () => void): () => void {
  installExitHook();
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

let setprivPath: string | null | undefined;
function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform === 'linux' && process.env.STACK_NO_PDEATHSIG !== '1') {
    for (const p of ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv']) {
      try {
        fs.accessSync(p, fs.constants.X_OK);
        // --pdeathsig needs util-linux >= 2.33
        if (!execFileSync(p, ['--help'], { encoding: 'utf8', timeout: 2000 }).includes('--pdeathsig')) break;
        setprivPath = p;
        break;
      } catch {
        /* next */
      }
    }
  }
  return setprivPath;
}

/**
 * The command line that starts `command` so the kernel sends it `signal` when this process dies
 * (through setpriv, see above); unchanged where setpriv is unavailable or turned off.
 */
export function withParentDeathSignal(
  command: string,
  args: string[],
  signal: NodeJS.Signals = 'SIGKILL',
): { command: string; args: string[] } {
  const setpriv = findSetpriv();
  if (!setpriv) return { command, args };
  return { command: setpriv, args: ['--pdeathsig', signal.replace(/^SIG/, ''), '--', command, ...args] };
}

export class ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly child: ChildProcess;
  readonly pid: number;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  exited = false;
  /** Set when the child could not be spawned at all (e.g. ENOENT). */
  spawnError: Error | undefined;
  readonly exitPromise: Promise<void>;
  private readonly stopSignal: NodeJS.Signals;
  private stopping: Promise<void> | undefined;

  constructor(spec: ChildSpec) {
    this.name = spec.name;
    this.logFile = spec.logFile;
    this.stopSignal = spec.stopSignal ?? 'SIGTERM';
    fs.mkdirSync(path.dirname(spec.logFile), { recursive: true });
    const fd = fs.openSync(spec.logFile, spec.truncateLog ? 'w' : 'a');
    const { command, args } = withParentDeathSignal(spec.command, spec.args, spec.parentDeathSignal);
    try {
      fs.writeSync(fd, `\n=== ${new Date().toISOString()} starting: ${[spec.command, ...spec.args].join(' ')}\n`);
      this.child = spawn(command, args, {
        cwd: spec.cwd,
        env: spec.env ?? process.env,
        stdio: ['ignore', fd, fd],
        uid: spec.uid,
        gid: spec.gid,
      });
    } finally {
      fs.closeSync(fd); // the child has its own copy
    }
    this.exitPromise = new Promise<void>((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        resolve();
      });
      this.child.once('error', (err) => {
        // spawn failure: no 'exit' event follows
        this.spawnError = err;
        if (this.child.pid === undefined) {
          this.exited = true;
          live.delete(this);
          resolve();
        }
      });
    });
    this.pid = this.child.pid ?? -1;
    if (this.child.pid !== undefined) {
      live.add(this);
      installExitHook();
    }
  }

  describeExit(): string {
    if (this.spawnError) return `could not be started (${this.spawnError.message})`;
    return this.exitSignal ? `was killed by ${this.exitSignal}` : `exited with code ${this.exitCode}`;
  }

  /** Last `lines` lines of the log file (for error messages). */
  tail(lines = 25): string {
    return tailFile(this.logFile, lines);
  }

  /** An Error saying the child died during startup, with its log tail. */
  diedError(what = 'during startup'): Error {
    return new Error(
      `${this.name} ${this.describeExit()} ${what}. Last lines of ${this.logFile}:\n${indent(this.tail())}`,
    );
  }

  /** Graceful stop, then SIGKILL after `timeoutMs`. Idempotent. */
  stop(timeoutMs = 5000): Promise<void> {
    if (this.exited) return Promise.resolve();
    this.stopping ??= (async () => {
      this.signal(this.stopSignal);
      if (!(await this.waitExit(timeoutMs))) {
        this.signal('SIGKILL');
        await this.waitExit(2000);
      }
    })();
    return this.stopping;
  }

  /** Resolves true once the child has exited, false after `ms` (the timer never outlives the wait). */
  waitExit(ms: number): Promise<boolean> {
    if (this.exited) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.exited), ms);
      void this.exitPromise.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Synchronous SIGKILL (for the 'exit' hook). */
  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.exited || this.pid <= 0) return;
    try {
      process.kill(this.pid, sig);
    } catch {
      /* already gone */
    }
  }
}

export function spawnManaged(spec: ChildSpec): ManagedProcess {
  return new ManagedProcess(spec);
}

/** Pids of children started by this module that are still running (tests use it). */
export function livePids(): number[] {
  return [...live].map((p) => p.pid);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  /** What we are waiting for, for the timeout message. */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Fail fast if this child exits while waiting. */
  proc?: ManagedProcess;
}

/**
 * Polls `check` until it returns true (or a truthy value, which is returned). Throws when the
 * timeout passes (with the last check error and the child's log tail) or when `proc` exits.
 */
export async function waitUntil<T>(check: () => Promise<T | false>, opts: WaitOptions): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    if (opts.proc?.exited) throw opts.proc.diedError();
    try {
      const result = await check();
      if (result !== false) return result;
    } catch (err) {
      lastError = err;
    }
    if (opts.proc?.exited) throw opts.proc.diedError();
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      const logs = opts.proc ? `\nLast lines of ${opts.proc.logFile}:\n${indent(opts.proc.tail())}` : '';
      throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}${why}${logs}`);
    }
    await sleep(interval);
  }
}

export function tailFile(file: string, lines: number): string {
  try {
    const size = fs.statSync(file).size;
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    const fd = fs.openSync(file, 'r');
    try {
      fs.readSync(fd, buf, 0, len, size - len);
    } finally {
      fs.closeSync(fd);
    }
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log output)';
  }
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** How a supervised service is restarted: exponential backoff, forgotten once a run lasted long enough. */
export interface RestartPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  /** A run that lasted this long was healthy: the next crash waits initialDelayMs again. */
  resetAfterMs: number;
}

/** 0.5 s doubling to 15 s: a crash loop costs little, a single crash is repaired at once. */
export const SERVICE_RESTART_POLICY: RestartPolicy = { initialDelayMs: 500, maxDelayMs: 15_000, resetAfterMs: 30_000 };

/** The wait before the `failuresInRow`-th restart in a row (1 = the first since a healthy run). */
export function restartDelayMs(failuresInRow: number, policy: RestartPolicy = SERVICE_RESTART_POLICY): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.max(0, failuresInRow - 1));
}

export interface SupervisedSpec {
  /** Used in log lines: "<name> exited (SIGKILL); restarting in 1.0 s (restart #2)". */
  name: string;
  /** Starts one run of the service. */
  spawn: () => ChildProcess;
  log: (line: string) => void;
  /** Told each new run's pid, and undefined while the service is down (e.g. to keep a pids file). */
  onPid?: (pid: number | undefined) => void;
  policy?: RestartPolicy;
}

/**
 * Keeps one service process running the way an orchestrator does: a run that ends while the
 * service is not being stopped, for whatever reason, is started again after a backoff, and
 * nothing else is touched. stop() ends the supervision first, so a stop never triggers a restart.
 */
export class SupervisedService {
  private child: ChildProcess | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private restarts = 0;
  private failuresInRow = 0;

  constructor(private readonly spec: SupervisedSpec) {}

  start(): void {
    const child = this.spec.spawn();
    const startedAt = Date.now();
    this.child = child;
    child.once('exit', (code, signal) => this.ended(child, startedAt, signal ?? `code ${code}`));
    child.once('error', (err) => {
      // spawn failure: no 'exit' event follows
      if (child.pid === undefined) this.ended(child, startedAt, `could not start: ${err.message}`);
    });
    if (child.pid === undefined) return;
    this.spec.onPid?.(child.pid);
    this.spec.log(`${this.spec.name} running (pid ${child.pid})`);
  }

  /** Ends supervision, then stops the running process: SIGTERM, and SIGKILL after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  private ended(child: ChildProcess, startedAt: number, how: string): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.spec.onPid?.(undefined);
    if (this.stopped) return;
    const policy = this.spec.policy ?? SERVICE_RESTART_POLICY;
    this.failuresInRow = Date.now() - startedAt >= policy.resetAfterMs ? 1 : this.failuresInRow + 1;
    this.restarts += 1;
    const delay = restartDelayMs(this.failuresInRow, policy);
    this.spec.log(`${this.spec.name} exited (${how}); restarting in ${(delay / 1000).toFixed(1)} s (restart #${this.restarts})`);
    this.restartTimer = setTimeout(() => {
      if (!this.stopped) this.start();
    }, delay);
  }
}
