/** Writes tools/bench/README-section.md: the README's "Performance" section from a bench report. */
import fs from 'node:fs';
import path from 'node:path';
import { ENGINE_LABEL } from './engine';
import { renderEngineComparison, renderNotes, renderTable, type BenchReport } from './report';

export function readmeSection(report: BenchReport): string {
  const m = report.machine;
  const when = report.startedAt.slice(0, 16).replace('T', ' ');
  return `## Performance

\`npm run bench\` starts the local stack (as the tests do), measures the rows below and prints this
table (JSON in \`.bench/latest-full.json\`); \`npm run bench -- --quick\` is a short version that
\`test/bench.test.ts\` runs so the bench cannot rot. Goals are judged, never asserted. Each figure
sits next to a **floor** measured in the same run on the same Temporal server and worker settings:
for the job rows, a workflow with the same activity hops and signal and no-op activities
(\`tools/bench/floor-workflows.ts\`); for the chaos rows (C1–C4: workers, the whole service, Postgres or
Temporal killed mid-run), the same workload run clean on the same service just before; for the
others, as the floor column says.

Last measured: ${report.mode} mode, ${when} UTC, ${Math.round(report.seconds / 60)} min; ${m.nproc} cores (${m.cpuModel}),
${m.memoryGiB} GiB, Node ${m.node}; load average at the start ${m.loadAverageAtStart.join(' / ')} (the machine was shared
with other test runs, so absolute numbers are noisy; the floors move with them). Settings: API and
worker as separate processes, \`REPLICATE_CREATE_RATE_PER_SECOND=${String(report.settings.createRatePerSecond)}\`, log level
${String(report.settings.logLevel)}, credits from ${String(report.settings.credits)}; ${stateDir(report)}.
\`npm run bench -- --quick\` takes about 100 s here.
${engines(report)}
${renderTable(report.rows)}
${comparison(report)}
${renderNotes(report.rows)}
`;
}

function comparison(report: BenchReport): string {
  const text = renderEngineComparison(report.rows);
  if (!text) return '';
  return `
**The engines side by side.** Each figure next to its own engine's floor; where the floor moves as much as the figure,
the difference is the engine's cost, not the service's:

${text}
`;
}

function engines(report: BenchReport): string {
  const list = report.engines ?? ['dev'];
  if (list.length < 2) return '';
  return `
The Temporal rows ran once per engine (\`npm run bench -- --engines=${list.join(',')}\`), each engine with its own stack and
its own floors: ${list.map((e) => `**${e}**, the ${ENGINE_LABEL[e]}`).join('; ')}. The cluster is the topology of
\`npm run start:cluster\` (tools/dev/temporal-cluster.ts) on the same 2 cores as everything else. B4–B7 do not depend on
the engine and ran on the first only.
`;
}

function stateDir(report: BenchReport): string {
  const dir = report.settings.stackDataDir ? path.dirname(String(report.settings.stackDataDir)) : undefined;
  if (!dir) return 'a reused stack';
  if (dir !== '/dev/shm') return `the stack's state in \`${dir}\``;
  return "the stack's state on tmpfs (`/dev/shm`): on this VM's shared disk the Temporal dev server's SQLite fsyncs stalled it for seconds at a time";
}

/** Hand-written analysis below this heading survives a regeneration (its numbers may then be older). */
export const ANALYSIS_HEADING = '### What bounds the misses';

export function writeReadmeSection(report: BenchReport, file: string): void {
  const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const at = previous.indexOf(ANALYSIS_HEADING);
  const analysis = at >= 0 ? `\n${previous.slice(at)}` : '';
  fs.writeFileSync(file, readmeSection(report) + analysis);
}
