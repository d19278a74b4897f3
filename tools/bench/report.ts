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

interface Headline {
  /** What the figure is, e.g. "job p50". */
  figure: string;
  figureKey: string;
  /** What the floor is. */
  floor: string;
  floorKey: string;
  unit: 'ms' | 's' | '/s';
  /** Also say how far the figure is above the floor (the row's goal is about that gap). */
  gap?: boolean;
}

const CHAOS_HEADLINE: Headline = {
  figure: "hit jobs' extra delay (max)",
  figureKey: 'extra_delay_max_s',
  floor: "the clean run's per-job p50",
  floorKey: 'p50_s',
  unit: 's',
};

/** The figure of each engine row that the comparison puts side by side, next to its floor. */
const HEADLINES: Record<string, Headline> = {
  B1: { figure: 'job p50', figureKey: 'p50_ms', floor: 'the floor workflow p50', floorKey: 'p50_ms', unit: 'ms', gap: true },
  B2: { figure: 'steady creates', figureKey: 'steady_creates_per_s', floor: 'the floor workflow', floorKey: 'steady_creates_per_s', unit: '/s' },
  B3: { figure: 'accept capacity (p99 ≤ 250 ms)', figureKey: 'accept_capacity_per_s', floor: 'bare workflow-start capacity', floorKey: 'capacity_per_s', unit: '/s' },
  B9: { figure: 'CPU per 1-output job', figureKey: 'job1_cpu_ms', floor: "the floor workflow's", floorKey: 'cpu_ms', unit: 'ms' },
  C1: CHAOS_HEADLINE,
  C2: CHAOS_HEADLINE,
  C3: CHAOS_HEADLINE,
  C4: CHAOS_HEADLINE,
  F1: { figure: "other account's job p99 during the flood", figureKey: 'other_p99_ms', floor: 'its idle p99', floorKey: 'p99_ms', unit: 'ms', gap: true },
  F2: { figure: "other account's job p99 with the webhook slots held", figureKey: 'other_p99_ms', floor: 'its clean p99', floorKey: 'p99_ms', unit: 'ms' },
  F3: { figure: "others' GET p99 with the streams held", figureKey: 'held_get_p99_ms', floor: 'clean GET p99', floorKey: 'p99_ms', unit: 'ms' },
};

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
function withUnit(v: number | undefined, unit: Headline['unit']): string {
  if (v === undefined) return '?';
  if (unit === '/s') return `${v}/s`;
  return `${unit === 'ms' && v >= 10 ? Math.round(v) : v} ${unit}`;
}
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const times = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? '?' : `${Math.round((a / b) * 100) / 100}×`);

export function renderEngineComparison(rows: RowResult[]): string {
  const engines = [...new Set(rows.map((r) => r.engine ?? 'dev'))];
  if (engines.length < 2) return '';
  const ids = [...new Set(rows.map((r) => r.id))];
  const out: string[] = [];
  for (const id of ids) {
    const byEngine = engines.map((e) => rows.find((r) => r.id === id && (r.engine ?? 'dev') === e));
    if (byEngine.filter(Boolean).length < 2) continue;
    const h = HEADLINES[id];
    const parts = byEngine.map((r, i) => {
      const engine = engines[i]!;
      if (!r) return `${engine} not measured`;
      if (r.error) return `${engine} ERROR`;
      const chaos = num(r.figures.jobs) !== undefined && num(r.figures.succeeded) !== undefined ? `, ${String(r.figures.succeeded)}/${String(r.figures.jobs)} succeeded` : '';
      if (!h) return `${engine} ${r.ratioText} the floor (${verdict(r)}${chaos})`;
      const [figure, floor] = [num(r.figures[h.figureKey]), num(r.floor?.[h.floorKey])];
      const gap = h.gap && figure !== undefined && floor !== undefined ? `, ${withUnit(Math.round((figure - floor) * 10) / 10, h.unit)} above it` : '';
      return `${engine} ${withUnit(figure, h.unit)}, floor ${withUnit(floor, h.unit)}${gap} (${verdict(r)}${chaos})`;
    });
    const [first] = byEngine;
    const against =
      h && first && !first.error
        ? byEngine
            .slice(1)
            .map((r, i) =>
              r && !r.error
                ? `${capitalize(engines[i + 1]!)} ÷ ${engines[0]!}: figure ${times(num(r.figures[h.figureKey]), num(first.figures[h.figureKey]))}, floor ${times(num(r.floor?.[h.floorKey]), num(first.floor?.[h.floorKey]))}`
                : '',
            )
            .filter(Boolean)
        : [];
    const what = h ? ` (${h.figure}; floor: ${h.floor})` : '';
    out.push(`- **${id}**${what}: ${parts.join('; ')}.${against.length ? ` ${against.join('; ')}.` : ''}`);
  }
  return out.join('\n');
}
