import fs from 'node:fs';
import path from 'node:path';
import { makeTempDataDir } from '../dev/stack';

/**
 * A fresh folder for a stack's state (Temporal's SQLite file, Postgres, MinIO), on tmpfs when
 * there is one (BENCH_DATA_DIR to choose): on a shared disk, the dev server's SQLite fsyncs
 * stalled Temporal for seconds at a time and the rows measured the disk. Production Temporal and
 * Postgres run on their own servers; what the bench compares is our code against the floor on
 * the same stack.
 */
export function benchDataDir(prefix = 'imagegen-bench-'): string {
  const root = process.env.BENCH_DATA_DIR ?? (isWritableDir('/dev/shm') ? '/dev/shm' : undefined);
  return root ? fs.mkdtempSync(path.join(root, prefix)) : makeTempDataDir(prefix);
}

function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
