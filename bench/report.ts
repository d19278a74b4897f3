/** The bench's output: one row per measurement, printed as one Markdown table and saved as JSON. */
import { ENGINE_LABEL, type Engine } from './engine';
import type { CpuReport } from './proc';

export interface RowResult {
  id: string;
  /** The Temporal server it was measured on (set by the run; absent in reports from before engines). */
  engine?: Engine;
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
  /** The engines measured, in run order. */
  engines?: Engine[];
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

/** More than one engine in the rows: the table gets an engine column and the notes name it. */
const severalEngines = (rows: RowResult[]) => new Set(rows.map((r) => r.engine ?? 'dev')).size > 1;
const rowName = (r: RowResult, several: boolean) => (several ? `${r.id} (${r.engine ?? 'dev'})` : r.id);

export function renderTable(rows: RowResult[]): string {
  const several = severalEngines(rows);
  const head = ['id', ...(several ? ['Temporal'] : []), 'what', 'figure(s)', 'floor (same run)', 'ratio to floor', 'goal', 'verdict'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) {
    const figure = r.error ? `error: ${r.error}` : r.figureText;
    const engine = several ? [ENGINE_LABEL[r.engine ?? 'dev']] : [];
    lines.push(`| ${[r.id, ...engine, r.what, figure, r.floorText, r.ratioText, r.goal, verdict(r)].map(esc).join(' | ')} |`);
  }
  return lines.join('\n');
}

export function renderNotes(rows: RowResult[]): string {
  const several = severalEngines(rows);
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
    if (items.length) out.push(`- **${rowName(r, several)}**: ${items.join(' ')}`);
  }
  return out.join('\n');
}
