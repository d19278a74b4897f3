import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchReport } from '../tools/bench/report';
import { STACK_INFO_ENV } from '../tools/dev/stack-info';

const ROOT = path.resolve(__dirname, '..');
/**
 * The quick bench takes about 8–9 minutes on 2 quiet cores (the chaos rows about 2.5 of them, the
 * isolation rows F1–F3 about 2, each on its own service), plus about 3 for B3's capacity search
 * and B9 (measured at a load average of 5–12); far more when the machine is shared.
 */
const TIMEOUT_MS = 20 * 60_000;
const ROWS = ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B9', 'C1', 'C2', 'C3', 'C4', 'F1', 'F2', 'F3'];

/**
 * `npm run bench -- --quick`, as a child process on this run's stack, so the bench cannot rot.
 * The chaos rows (C1–C4) kill and restart processes of their own stack and service, never this one.
 * Only that every row measured something is checked: the goals are the bench's to judge, and
 * this machine's load (other test files run alongside) would make them flaky here.
 */
describe('npm run bench -- --quick', () => {
  it('when it runs on the test stack, then every row produces figures next to a floor and a verdict', async () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-test-')), 'report.json');
    const args = ['--import', 'tsx', 'tools/bench/run.ts', '--quick', `--stack-info=${process.env[STACK_INFO_ENV]}`, `--out=${out}`];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, BENCH_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // stopped before jest's own timeout, so a slow run fails with its log instead of outliving the stack
    const killer = setTimeout(() => child.kill('SIGTERM'), TIMEOUT_MS - 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    clearTimeout(killer);
    if (code !== 0 || !fs.existsSync(out)) throw new Error(`bench exited with ${code}:\n${output.slice(-4000)}`);

    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchReport;
    expect(report.mode).toBe('quick');
    expect(report.rows.map((r) => r.id)).toEqual(ROWS);
    for (const row of report.rows) {
      expect({ id: row.id, error: row.error }).toEqual({ id: row.id, error: undefined });
      expect(row.figureText).not.toBe('');
      expect(Object.values(row.figures).some((v) => typeof v === 'number' && Number.isFinite(v))).toBe(true);
      expect(row.floor).not.toBeNull();
      expect(row.floorText).not.toBe('—');
      expect(typeof row.pass).toBe('boolean');
    }
    // the printed table has one line per row
    for (const id of ROWS) expect(output).toMatch(new RegExp(`^\\| ${id} \\|`, 'm'));
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }, TIMEOUT_MS);
});
