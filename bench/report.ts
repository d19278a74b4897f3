/** The bench's output: one row per measurement, printed as one Markdown table and saved as JSON. */
import type { CpuReport } from './proc';

export interface RowResult {
  id: string;
  what: string;
  /** Named numbers (and a few strings) behind the table cells, for the JSON file. */
  figures: Record<string, number | string | boolean | null>;
  /** The figure cell of the table. */
  figureText: string;
  floor: Record<string, number | string | null> | null;
  floorText: string;
  /** Figure ÷ floor (the main figure of the row), when both exist. */
  ratio: number | null;
  ratioText: string;
  goal: string;
  /** null: no verdict (the row failed to measure). */
  pass: boolean | null;
  /** Which part of the goal was missed, and what bounds it. */
  notes: string[];
  /** CPU use while the row measured (evidence for a miss). */
  cpu?: CpuReport;
  seconds: number;
  error?: string;
}

export interface BenchReport {
  mode: 'quick' | 'full';
  /** Only some rows ran (--only). */
  partial?: boolean;
  startedAt: string;
  seconds: number;
  machine: MachineInfo;
  settings: Record<string, unknown>;
  rows: RowResult[];
}

export interface MachineInfo {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  loadAverageAtStart: number[];
}

const esc = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function verdict(r: RowResult): string {
  if (r.error) return 'ERROR';
  return r.pass === null ? '—' : r.pass ? 'PASS' : 'MISS';
}

export function renderTable(rows: RowResult[]): string {
  const head = ['id', 'what', 'figure(s)', 'floor (same run)', 'ratio to floor', 'goal', 'verdict'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const figure = r.error ? `error: ${r.error}` : r.figureText;
    lines.push(`| ${[r.id, r.what, figure, r.floorText, r.ratioText, r.goal, verdict(r)].map(esc).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function renderNotes(rows: RowResult[]): string {
  const out: string[] = [];
  for (const r of rows) {
    const cpu = r.cpu
      ? `CPU during the row (${r.cpu.seconds} s, % of one core): machine ${r.cpu.machineBusyPct}% busy of ${r.cpu.cores} cores` +
        (r.cpu.cpuPressurePct === null ? '' : `, some task waiting for a CPU ${r.cpu.cpuPressurePct}% of the time`) +
        '; used: ' +
        Object.entries(r.cpu.byGroupPctOfCore)
          .map(([k, v]) => `${k} ${v}%`)
          .join(', ') +
        `, not ours ${r.cpu.othersPctOfCore}%; runnable but waiting for a CPU (Node: event loop; others: all threads): ` +
        Object.entries(r.cpu.waitingForCpuPct)
          .map(([k, v]) => `${k} ${v}%`)
          .join(', ') +
        '.'
      : '';
    const items = [...r.notes, cpu].filter(Boolean);
    if (items.length) out.push(`- **${r.id}**: ${items.join(' ')}`);
  }
  return out.join('\n');
}
