/**
 * Linux /proc readers: per-process memory (VmRSS, VmHWM), per-process and machine CPU time.
 * They are the evidence the report gives for a missed goal (who used the CPU during a row).
 */
import fs from 'node:fs';
import os from 'node:os';

const CLK_TCK = 100; // USER_HZ on every Linux the bench runs on (getconf CLK_TCK)

/** VmRSS and VmHWM of a process in bytes, or undefined once it is gone. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS ("5" > clear_refs); false if not allowed. */
export function resetPeak(pid: number): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Follows a process's RSS: samples VmRSS every `everyMs` and reads VmHWM at the end, so the peak
 * is right even between samples (when the kernel let us reset VmHWM at the start).
 */
export function watchMemory(pid: number, everyMs = 50) {
  const start = memoryOf(pid);
  const hwmReset = resetPeak(pid);
  let maxRss = start?.rss ?? 0;
  const timer = setInterval(() => {
    const m = memoryOf(pid);
    if (m && m.rss > maxRss) maxRss = m.rss;
  }, everyMs);
  return {
    baseline: start?.rss ?? NaN,
    stop(): { baseline: number; peak: number; growth: number; method: string } {
      clearInterval(timer);
      const end = memoryOf(pid);
      const peak = Math.max(maxRss, hwmReset && end ? end.hwm : 0);
      const baseline = start?.rss ?? NaN;
      return { baseline, peak, growth: peak - baseline, method: hwmReset ? 'VmHWM after reset + VmRSS samples' : `VmRSS sampled every ${everyMs} ms` };
    },
  };
}

function cpuTicksOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the ")" of comm: state is field 3; utime 14, stime 15 (1-based)
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return undefined;
  }
}

/**
 * Nanoseconds waiting on the run queue (schedstat): for Node, of the main thread (the event
 * loop is what callers wait for); for anything else (Go servers, Postgres), of all its threads.
 */
function runQueueWaitOf(pid: number): number | undefined {
  const read = (file: string) => Number(fs.readFileSync(file, 'utf8').trim().split(/\s+/)[1] ?? 0);
  try {
    if (fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'node') return read(`/proc/${pid}/schedstat`);
    let sum = 0;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      try {
        sum += read(`/proc/${pid}/task/${tid}/schedstat`);
      } catch {
        /* thread gone */
      }
    }
    return sum;
  } catch {
    return undefined;
  }
}

function pressureMicros(): number | undefined {
  try {
    const some = /^some .*total=(\d+)/m.exec(fs.readFileSync('/proc/pressure/cpu', 'utf8'));
    return some ? Number(some[1]) : undefined;
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle + iowait
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
  return { busy: total - idle, total };
}

/** The command line of a process, arguments separated by spaces ('' once it is gone). */
export function commandOf(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Pids whose command line contains `needle` (e.g. the stack's data dir). */
export function pidsMatching(needle: string): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) out.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return out;
}

export interface CpuReport {
  seconds: number;
  /** Share of the time some runnable task waited for a CPU (Linux PSI, /proc/pressure/cpu "some"). */
  cpuPressurePct: number | null;
  /** Time each group spent runnable but waiting for a CPU (schedstat; Node: its event loop thread), % of the row. */
  waitingForCpuPct: Record<string, number>;
  /** Busy share of the whole machine, 0..100 (100 = every core busy). */
  machineBusyPct: number;
  cores: number;
  /** CPU used by each named group, in % of one core (200 = two cores). */
  byGroupPctOfCore: Record<string, number>;
  /** Machine CPU not accounted for by the groups (other programs, other engineers' runs), % of one core. */
  othersPctOfCore: number;
}

/**
 * CPU use of named process groups and of the whole machine between start and stop. `groups` is
 * asked at both ends; a process that appeared in between counts from zero (its whole life).
 */
export function cpuMeter(groups: () => Record<string, number[]>) {
  const t0 = Date.now();
  const m0 = machineTicks();
  const p0 = pressureMicros();
  const before = new Map<number, number>();
  const waitBefore = new Map<number, number>();
  for (const pids of Object.values(groups())) {
    for (const pid of pids) {
      before.set(pid, cpuTicksOf(pid) ?? 0);
      waitBefore.set(pid, runQueueWaitOf(pid) ?? 0);
    }
  }
  return {
    stop(): CpuReport {
      const seconds = Math.max((Date.now() - t0) / 1000, 0.001);
      const m1 = machineTicks();
      const cores = os.cpus().length;
      const byGroupPctOfCore: Record<string, number> = {};
      const waitingForCpuPct: Record<string, number> = {};
      let ours = 0;
      for (const [name, pids] of Object.entries(groups())) {
        let ticks = 0;
        let waitNs = 0;
        for (const pid of pids) {
          const now = cpuTicksOf(pid);
          if (now !== undefined) ticks += now - (before.get(pid) ?? 0);
          const wait = runQueueWaitOf(pid);
          if (wait !== undefined) waitNs += wait - (waitBefore.get(pid) ?? 0);
        }
        ours += ticks;
        byGroupPctOfCore[name] = Math.round((ticks / CLK_TCK / seconds) * 100);
        waitingForCpuPct[name] = Math.round((waitNs / 1e9 / seconds) * 100);
      }
      const p1 = pressureMicros();
      const busyTicks = m1.busy - m0.busy;
      return {
        seconds: Math.round(seconds * 10) / 10,
        cpuPressurePct: p0 !== undefined && p1 !== undefined ? Math.round(((p1 - p0) / 1e6 / seconds) * 100) : null,
        waitingForCpuPct,
        machineBusyPct: Math.round((busyTicks / Math.max(1, m1.total - m0.total)) * 100),
        cores,
        byGroupPctOfCore,
        othersPctOfCore: Math.max(0, Math.round(((busyTicks - ours) / CLK_TCK / seconds) * 100)),
      };
    },
  };
}
