/**
 * `npm run bench` (GitHub issue 8): starts the local stack (as the tests do), measures B1–B9,
 * the chaos rows C1–C4 (kills and restarts of workers, the whole service, Postgres and
 * Temporal mid-run: tools/bench/rows/chaos.ts) and the isolation rows F1–F3 (one account's flood,
 * silent webhooks and streams against another account), prints one table and writes it as JSON
 * under .bench/.
 * Goals are judged (PASS/MISS), never asserted: the run succeeds whatever the figures are, and
 * fails only if it could not measure.
 *
 *   npm run bench                  full mode (about 15 minutes)
 *   npm run bench -- --quick       short mode (about two minutes; test/bench.test.ts runs it)
 *   options: --only=B1,B7,C1   --create-rate=<per s>   --stack-info=<file> (reuse a running stack,
 *            e.g. the jest one)   --out=<file.json>   --readme (also write tools/bench/README-section.md, the README's Performance section, git-ignored)
 *            --engines=dev,cluster (or --engine=cluster): the Temporal server(s) to measure on, one
 *            after the other, each with its own stack and floors (tools/bench/engine.ts); on the second
 *            engine only the rows that measure Temporal (B1–B3, C1–C4, F1–F3) run again
 *            --render=<report.json> [--readme]: measure nothing, print that report again (and write
 *            the README section from it), e.g. after a change to the report's layout
 *
 * Every figure sits next to a floor measured in the same run on the same Temporal server and
 * worker settings (see tools/bench/floor-workflows.ts and each row's header).
 *
 * Environment: BENCH_DATA_DIR (where the stack keeps its state; default /dev/shm), BENCH_DATABASE_URL
 * (an existing Postgres instead of the embedded one), BENCH_LOG_LEVEL (API and worker; default
 * warn), BENCH_API_NODE_ARGS / BENCH_WORKER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 * WORKER_* and other service settings in the environment reach the API and worker unchanged, to
 * try other tuning. Logs of every child process: .bench/runs/<time>-<mode>/.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { REPO_ROOT } from '../dev/paths';
import { startLocalReplicate } from '../replicate-local/server';
import { bundleWorkflows, prepareStack, type PreparedStack } from '../dev/prepared-stack';
import { STACK_INFO_ENV, type StackInfo } from '../dev/stack-info';
import type { BenchContext } from './context';
import { creditSource } from './credits';
import { benchDataDir } from './data-dir';
import { ENGINE_LABEL, ENGINES, startClusterEngine, type Engine } from './engine';
import { writeReadmeSection } from './readme';
import { renderEngineComparison, renderNotes, renderTable, type BenchReport, type MachineInfo, type RowResult } from './report';
import { b1JobOverhead, type B1Extra } from './rows/b1-job-overhead';
import { b2ProviderThroughput } from './rows/b2-provider-throughput';
import { b3AcceptCapacity } from './rows/b3-accept-capacity';
import { b4TrainingUploadMemory } from './rows/b4-training-upload-memory';
import { b5PhotoValidation } from './rows/b5-photo-validation';
import { b8FaceInspection } from './rows/b8-face-inspection';
import { b9ActionsPerJob } from './rows/b9-actions-per-job';
import { b6PromptListQueries } from './rows/b6-prompt-list-queries';
import { b7ReadPath } from './rows/b7-read-path';
import { c1WorkerKills } from './rows/c1-worker-kills';
import { c2ServiceKill } from './rows/c2-service-kill';
import { c3PostgresRestart } from './rows/c3-postgres-restart';
import { c4TemporalRestart } from './rows/c4-temporal-restart';
import { f1Flood } from './rows/f1-flood';
import { f2SilentWebhooks } from './rows/f2-silent-webhooks';
import { f3Streams } from './rows/f3-streams';
import { startChaosEnv, type ChaosEnv } from './rows/chaos';
import { startService, type Service } from './service';

/**
 * The worker's create-queue rate limit for the run (REPLICATE_CREATE_RATE_PER_SECOND). The
 * production default, 9.5/s, is 95% of Replicate's 600/min and cannot reach B2's 97% goal.
 * 10/s is the provider's limit exactly: Temporal's limiter never exceeds it in steady state, and
 * the few 429s from its initial burst are retried after the provider's Retry-After.
 */
const DEFAULT_CREATE_RATE = 10;

/** --readme writes the README's Performance section here (git-ignored), to be pasted over the README's. */
const README_SECTION_FILE = path.join(REPO_ROOT, 'tools', 'bench', 'README-section.md');

export interface BenchOptions {
  quick: boolean;
  only?: string[];
  createRatePerSecond?: number;
  /** Reuse a running stack (a StackInfo file) instead of starting one. */
  stackInfoFile?: string;
  out?: string;
  readme?: boolean;
  /** The Temporal servers to measure on, one after the other (tools/bench/engine.ts); default dev. */
  engines?: Engine[];
  /** Measure nothing: print (and with `readme`, write the README section of) this saved report. */
  render?: string;
  log?: (line: string) => void;
}

function parseArgs(argv: string[]): BenchOptions {
  const opts: BenchOptions = { quick: false };
  for (const arg of argv) {
    const [key, value] = arg.split(/=(.*)/s) as [string, string | undefined];
    if (key === '--quick') opts.quick = true;
    else if (key === '--only' && value) opts.only = value.split(',').map((s) => s.trim().toUpperCase());
    else if (key === '--create-rate' && value) opts.createRatePerSecond = Number(value);
    else if (key === '--stack-info' && value) opts.stackInfoFile = path.resolve(value);
    else if (key === '--out' && value) opts.out = path.resolve(value);
    else if (key === '--readme') opts.readme = true;
    else if ((key === '--engine' || key === '--engines') && value) opts.engines = parseEngines(value);
    else if (key === '--render' && value) opts.render = path.resolve(value);
    else throw new Error(`unknown option ${arg} (see tools/bench/run.ts)`);
  }
  return opts;
}

function parseEngines(value: string): Engine[] {
  const engines = value.split(',').map((s) => s.trim());
  const unknown = engines.filter((e) => !(ENGINES as readonly string[]).includes(e));
  if (unknown.length || !engines.length) throw new Error(`--engines takes ${ENGINES.join(', ')} (got ${value})`);
  return [...new Set(engines)] as Engine[];
}

/**
 * The rows that measure Temporal itself: on a second engine only these run again (B4–B7 do not
 * depend on it). F3 (event streams) measures the API only; it runs again so that every isolation
 * row has a figure per engine.
 */
const ENGINE_ROWS = ['B1', 'B2', 'B3', 'B9', 'C1', 'C2', 'C3', 'C4', 'F1', 'F2', 'F3'];

export function machineInfo(): MachineInfo {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const started = Date.now();
  const t0 = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench +${Math.round((Date.now() - t0) / 1000)}s] ${line}\n`));
  const mode = options.quick ? 'quick' : 'full';
  const benchDir = path.join(REPO_ROOT, '.bench');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const runDir = path.join(benchDir, 'runs', `${stamp}-${mode}`);
  fs.mkdirSync(runDir, { recursive: true });
  const machine = machineInfo();
  log(`${mode} mode; ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, load ${machine.loadAverageAtStart.join(' ')}; logs in ${path.relative(REPO_ROOT, runDir)}`);
  if (options.stackInfoFile && (options.engines ?? ['dev']).some((e) => e !== 'dev')) throw new Error('--stack-info reuses a dev-server stack: it does not go with the cluster engine');

  const engines = options.engines ?? ['dev'];
  const rows: RowResult[] = [];
  let stackDataDirUsed: string | undefined;
  for (const [i, engine] of engines.entries()) {
    const only = i === 0 ? options.only : (options.only ?? ENGINE_ROWS).filter((id) => ENGINE_ROWS.includes(id));
    if (only && !only.length) continue;
    if (engines.length > 1) log(`---- engine: ${ENGINE_LABEL[engine]} ----`);
    const measured = await runOnEngine({ ...options, only }, { engine, log, runDir: engines.length > 1 ? path.join(runDir, engine) : runDir, benchDir });
    stackDataDirUsed ??= measured.stackDataDir;
    rows.push(...measured.rows.map((r) => ({ ...r, engine })));
  }

  const order = (r: RowResult) => engines.indexOf(r.engine ?? 'dev');
  rows.sort((a, b) => a.id.localeCompare(b.id) || order(a) - order(b));
  const report: BenchReport = {
    mode,
    partial: Boolean(options.only),
    startedAt: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    machine,
    settings: {
      createRatePerSecond: options.createRatePerSecond ?? DEFAULT_CREATE_RATE,
      logLevel: process.env.BENCH_LOG_LEVEL ?? 'warn',
      stackReused: Boolean(options.stackInfoFile),
      stackDataDir: stackDataDirUsed ?? null,
      credits: creditSource(),
    },
    engines,
    rows,
  };
  const json = JSON.stringify(report, null, 2);
  // a partial run (--only) never replaces the latest complete report
  const kind = options.only ? `${mode}-partial` : mode;
  fs.writeFileSync(path.join(benchDir, `bench-${kind}-${stamp}.json`), json);
  fs.writeFileSync(path.join(benchDir, `latest-${kind}.json`), json);
  if (options.out) fs.writeFileSync(options.out, json);
  if (options.readme) writeReadmeSection(report, README_SECTION_FILE);
  return report;
}

/** Every wanted row on one engine: its own stack (and the chaos rows' own), started and stopped here. */
async function runOnEngine(
  options: BenchOptions,
  run_: { engine: Engine; log: (line: string) => void; runDir: string; benchDir: string },
): Promise<{ rows: RowResult[]; stackDataDir?: string }> {
  const { engine, log, runDir, benchDir } = run_;
  fs.mkdirSync(runDir, { recursive: true });
  const cleanups: Array<() => Promise<unknown> | unknown> = [];
  let stackDataDirUsed: string | undefined;
  const rows: RowResult[] = [];
  try {
    // ---- the stack (started like jest's global setup, or reused) and the floor bundle ----
    let stack: StackInfo;
    let stackDataDir: string | undefined;
    const floorBundle = bundleWorkflows(require.resolve('./floor-workflows'), `floor-bundle-${process.pid}.js`);
    cleanups.push(async () => {
      const file = await floorBundle.catch(() => undefined);
      if (file) fs.rmSync(file, { force: true });
    });
    if (options.stackInfoFile) {
      stack = JSON.parse(fs.readFileSync(options.stackInfoFile, 'utf8')) as StackInfo;
      process.env[STACK_INFO_ENV] = options.stackInfoFile;
      log(`reusing the stack in ${options.stackInfoFile}`);
    } else {
      let prepared: PreparedStack | undefined;
      for (let attempt = 1; !prepared; attempt++) {
        stackDataDir = benchDataDir();
        try {
          prepared = await prepareStack({
            runId: `bench-${process.pid}`,
            dataDir: stackDataDir,
            templateDatabase: 'imagegen_bench_template',
            databaseUrl: process.env.BENCH_DATABASE_URL || undefined,
            temporal: engine === 'dev',
            log: (l) => log(l),
          });
        } catch (err) {
          fs.rmSync(stackDataDir, { recursive: true, force: true }); // the error carries the log tail
          // free ports are picked before the children bind them: another stack may win the race
          if (attempt >= 2) throw err;
          log(`the stack did not start (${(err as Error).message.split('\n')[0]}); trying once more`);
        }
      }
      stackDataDirUsed = stackDataDir;
      log(`stack data in ${stackDataDir}`);
      cleanups.push(() => prepared.stack.stop());
      cleanups.push(() => fs.rmSync(prepared.info.workflowBundlePath, { force: true }));
      cleanups.push(() => fs.rmSync(prepared.infoFile, { force: true }));
      stack = prepared.info;
      if (engine === 'cluster') {
        const cluster = await startClusterEngine({ databaseUrl: prepared.info.databaseUrl, dataDir: stackDataDir!, log: (l) => log(`cluster ${l}`) });
        cleanups.push(() => cluster.stop());
        stack = { ...stack, temporal: cluster.temporal };
        fs.writeFileSync(prepared.infoFile, JSON.stringify(stack, null, 2));
      }
      process.env[STACK_INFO_ENV] = prepared.infoFile; // B6 runs the API in-process through test-env
    }
    const floorBundlePath = await floorBundle;

    const temporal = new Client({ connection: await Connection.connect({ address: stack.temporal.address }), namespace: stack.temporal.namespace });
    cleanups.push(() => temporal.connection.close());
    const replicate = await startLocalReplicate({ knobs: { latency_ms: 0 } });
    cleanups.push(() => replicate.close());
    const ctx: BenchContext = {
      quick: options.quick,
      stack,
      stackDataDir,
      runDir,
      benchDir,
      floorBundlePath,
      temporal,
      replicate,
      createRatePerSecond: options.createRatePerSecond ?? DEFAULT_CREATE_RATE,
      engine,
      log,
    };
    log(`stack ready; create-queue rate limit ${ctx.createRatePerSecond}/s; credits from: ${creditSource()}`);

    const wanted = (id: string) => !options.only || options.only.includes(id);
    const run = async (id: string, what: string, fn: () => Promise<RowResult>) => {
      if (!wanted(id)) return;
      const rowStarted = Date.now();
      log(`${id}: ${what}…`);
      let row: RowResult;
      try {
        row = await fn();
      } catch (err) {
        row = { id, what, figures: {}, figureText: '', floor: null, floorText: '—', ratio: null, ratioText: '—', goal: '', pass: null, notes: [], seconds: 0, error: err instanceof Error ? err.message : String(err) };
        log(`${id} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      row.seconds = Math.round((Date.now() - rowStarted) / 100) / 10;
      rows.push(row);
      log(`${id}: ${row.error ? 'ERROR' : row.pass ? 'PASS' : 'MISS'} — ${row.error ?? row.figureText} (${row.seconds} s)`);
    };

    // B1, B7, B2 share one API + worker pair (B7 reads a job B1 made); B3, B4 and B9 get their own.
    // B2 offers one account's jobs at twice the provider's limit: its backlog (about 2,000 jobs)
    // is over the per-account cap on jobs in flight, which would refuse them (429
    // too_many_active_jobs, an isolation limit F1 measures), so the cap is lifted here.
    if (['B1', 'B2', 'B7'].some(wanted)) {
      let svc: Service | undefined;
      let b1: B1Extra | undefined;
      try {
        svc = await startService(ctx, 'main', { MAX_ACTIVE_JOBS_PER_ACCOUNT: '1000000' });
        const s = svc;
        await run('B1', 'overhead of one generation job', async () => {
          const r = await b1JobOverhead(ctx, s);
          b1 = r.extra;
          return r.row;
        });
        await run('B7', 'read path', () => b7ReadPath(ctx, s, b1));
        await run('B2', 'provider-limited throughput', () => b2ProviderThroughput(ctx, s));
      } catch (err) {
        for (const id of ['B1', 'B7', 'B2'].filter((i) => wanted(i) && !rows.some((r) => r.id === i))) {
          rows.push({ id, what: '', figures: {}, figureText: '', floor: null, floorText: '—', ratio: null, ratioText: '—', goal: '', pass: null, notes: [], seconds: 0, error: `service did not start: ${(err as Error).message}` });
        }
      } finally {
        await svc?.stop();
      }
    }
    await run('B3', 'accept capacity', () => b3AcceptCapacity(ctx));
    await run('B9', 'Temporal actions and CPU per job', () => b9ActionsPerJob(ctx));
    await run('B5', 'photo validation', () => b5PhotoValidation(ctx));
    await run('B8', 'face inspection of training photos', () => b8FaceInspection(ctx));
    await run('B6', 'prompt list queries', () => b6PromptListQueries(ctx));
    await run('B4', 'memory on a training upload', () => b4TrainingUploadMemory(ctx));
    // The isolation rows, each on its own API + worker: F2 last, its hanging deliveries outlive it
    await run('F1', 'flood from one account', () => f1Flood(ctx));
    await run('F3', 'one key opens 1,000 event streams', () => f3Streams(ctx));
    await run('F2', 'silent webhooks', () => f2SilentWebhooks(ctx));
    await runChaosRows(ctx, wanted, run, rows);
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        log(`cleanup: ${(err as Error).message}`);
      }
    }
  }

  return { rows, stackDataDir: stackDataDirUsed };
}

const CHAOS_ROWS: Array<[string, string, (env: ChaosEnv) => Promise<RowResult>]> = [
  ['C1', 'worker kills', c1WorkerKills],
  ['C2', 'whole service killed', c2ServiceKill],
  ['C3', 'Postgres restart', c3PostgresRestart],
  ['C4', 'Temporal restart', c4TemporalRestart],
];

/** C1–C4 share their own stack, provider process and service (tools/bench/rows/chaos.ts), started once. */
async function runChaosRows(
  ctx: BenchContext,
  wanted: (id: string) => boolean,
  run: (id: string, what: string, fn: () => Promise<RowResult>) => Promise<void>,
  rows: RowResult[],
): Promise<void> {
  const chosen = CHAOS_ROWS.filter(([id]) => wanted(id));
  if (!chosen.length) return;
  let env: ChaosEnv | undefined;
  try {
    ctx.log('chaos rows: starting their stack (Postgres, Temporal), provider process and service (2 workers)');
    env = await startChaosEnv(ctx);
    const e = env;
    for (const [id, what, fn] of chosen) await run(id, what, () => fn(e));
  } catch (err) {
    for (const [id, what] of chosen.filter(([i]) => !rows.some((r) => r.id === i))) {
      rows.push({ id, what, figures: {}, figureText: '', floor: null, floorText: '—', ratio: null, ratioText: '—', goal: '', pass: null, notes: [], seconds: 0, error: `chaos service did not start: ${(err as Error).message}` });
    }
  } finally {
    await env?.stop();
  }
}

export function printReport(report: BenchReport): void {
  const m = report.machine;
  const comparison = renderEngineComparison(report.rows);
  process.stdout.write(
    `\n${renderTable(report.rows)}\n\n${comparison ? `${comparison}\n\n` : ''}${renderNotes(report.rows)}\n\n` +
      `${report.mode} mode, ${report.seconds} s; ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}; ` +
      `JSON: .bench/latest-${report.mode}${report.partial ? '-partial' : ''}.json\n`,
  );
}

if (require.main === module) {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (options.render) {
    const report = JSON.parse(fs.readFileSync(options.render, 'utf8')) as BenchReport;
    printReport(report);
    if (options.readme) writeReadmeSection(report, README_SECTION_FILE);
    process.exit(0);
  }
  runBench(options).then(
    (report) => {
      printReport(report);
      // figures are judged, not asserted: only a row that could not measure fails the run
      process.exit(report.rows.some((r) => r.error) ? 1 : 0);
    },
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
