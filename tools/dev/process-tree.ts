/** Process trees from /proc (Linux): what the dev tooling, the bench and the tests kill or watch. */
import fs from 'node:fs';

/** `roots` and every process below them, as /proc shows them now. */
export function withDescendants(roots: number[]): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const all = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parentOf) {
      if (all.has(ppid) && !all.has(pid)) {
        all.add(pid);
        grew = true;
      }
    }
  }
  return [...all];
}

/** True while `pid` runs; a zombie still answers signal 0 but runs no more. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

/**
 * SIGKILLs `root` and every process below it, as a crash of the whole tree. The tree is frozen
 * first (SIGSTOP, until no new process appears), so nothing forks while it dies: a Postgres
 * postmaster killed while it forks a backend would leave that backend holding its shared memory,
 * and a new server on the same data would refuse to start. Returns the pids it killed.
 */
export function killTree(root: number): number[] {
  let tree = withDescendants([root]);
  for (let grew = true; grew; ) {
    for (const pid of tree) signal(pid, 'SIGSTOP');
    const now = withDescendants([root]);
    grew = now.length > tree.length;
    tree = now;
  }
  for (const pid of tree) signal(pid, 'SIGKILL');
  return tree;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}
