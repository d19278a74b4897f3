/**
 * B8: face inspection of training photos (src/images/faces), beside B5's header-first check.
 * 30 phone-sized photos (12 MP JPEGs, 3000×4000, made from the real sample photos inside
 * @vladmandic/face-api: ten crops of each of three people, so the set check has work to do) go
 * through the real thread pool and model, as POST /photos/inspect runs them.
 *
 * Everything is measured in a process of its own (this file run with --child), started the way the
 * bench starts the API (`node --import tsx`, MALLOC_ARENA_MAX=2 unless the caller set it), so the
 * memory figure is the inspection's and not the bench's. In that process, in this order:
 *  - the floor: the header-first checks of the same 30 files (best of 3): wall time, CPU, and the
 *    process's RSS growth while they ran;
 *  - the pool starts and loads the model (warm-up, not counted);
 *  - per photo, one at a time on the warm pool: wall p50 and p95, and CPU per photo (the whole
 *    process, the inspection thread included: what a photo costs whatever else runs on the machine);
 *  - the whole set through inspectPhotoSet (header checks, faces, the same-person check), twice;
 *  - memory: the process's peak RSS (VmHWM, reset after the floor; also sampled every 20 ms) against
 *    its RSS just before the pool existed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { loadConfig } from '../../../src/config';
import { inspectPhotoSet } from '../../../src/images/faces/inspect-set';
import { createFaceInspector } from '../../../src/images/faces/pool';
import { checkTrainingImages, DEFAULT_IMAGE_RULES } from '../../../src/images/validate';
import type { ReceivedFile } from '../../../src/shared/received-file';
import { samePersonSet } from '../../../test/fixtures/faces';
import { MINIMAL_ENV } from '../../../test/helpers/config';
import type { BenchContext } from '../context';
import type { RowResult } from '../report';
import { round, summarize } from '../stats';
import { emptyRow, ms } from './common';

const GOAL = { p50Ms: 250, setMs: 8_000, memoryMb: 150 };
const MB = 1024 * 1024;

/** What the measuring process answers (one JSON line on stdout). */
interface Measured {
  photos: number;
  threads: number;
  floor: { setMs: number; cpuMsPerPhoto: number; rssGrowthMb: number };
  warmUpMs: number;
  perPhotoMs: number[];
  cpuMsPerPhoto: number;
  /** The set as POST /photos/inspect runs it (analysis only). */
  setRunsMs: number[];
  /** The set as a training upload runs it: each photo also prepared for the trainer in the same decode. */
  trainingSetMs: number;
  setFindings: number;
  rssBeforeMb: number;
  /** Peak RSS growth: the larger of VmHWM (when it could be reset) and the 20 ms samples. */
  rssGrowthMb: number;
  rssGrowthSampledMb: number;
  rssGrowthHwmMb: number | null;
  rssGrowthAtEndMb: number;
  loadAverage: { start: number[]; end: number[] };
}

export async function b8FaceInspection(ctx: BenchContext): Promise<RowResult> {
  const count = 30;
  const row = emptyRow('B8', `face inspection (${count} × 12 MP JPEG)`, `p50 ≤ ${GOAL.p50Ms} ms a photo, a ${count}-photo set ≤ ${GOAL.setMs / 1000} s, memory ≤ +${GOAL.memoryMb} MB`);
  const files = await photos(path.join(ctx.benchDir, 'face-photos'), count);
  const inputFile = path.join(ctx.runDir, 'b8-input.json');
  fs.writeFileSync(inputFile, JSON.stringify(files));
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--child', inputFile], {
    // As the services run (tools/bench/service.ts, the Dockerfile): two glibc malloc arenas.
    env: { MALLOC_ARENA_MAX: '2', ...process.env },
    timeout: 10 * 60_000,
    maxBuffer: 16 * MB,
  });
  const m = JSON.parse(stdout.trim().split('\n').pop()!) as Measured;

  const perPhoto = summarize(m.perPhotoMs);
  const setMs = Math.min(...m.setRunsMs);
  const worstSetMs = Math.max(setMs, m.trainingSetMs);
  const floorPerPhoto = m.floor.setMs / m.photos;
  row.figures = {
    photos: m.photos,
    threads: m.threads,
    warm_up_ms: round(m.warmUpMs),
    p50_ms_per_photo: round(perPhoto.p50, 1),
    p95_ms_per_photo: round(perPhoto.p95, 1),
    cpu_ms_per_photo: round(m.cpuMsPerPhoto, 1),
    set_ms: round(setMs),
    set_runs_ms: JSON.stringify(m.setRunsMs.map((s) => round(s))),
    training_set_ms: round(m.trainingSetMs),
    set_findings: m.setFindings,
    rss_before_mb: round(m.rssBeforeMb),
    rss_growth_mb: round(m.rssGrowthMb, 1),
    rss_growth_sampled_mb: round(m.rssGrowthSampledMb, 1),
    rss_growth_hwm_mb: m.rssGrowthHwmMb === null ? null : round(m.rssGrowthHwmMb, 1),
    rss_growth_at_end_mb: round(m.rssGrowthAtEndMb, 1),
    header_first_ms_per_photo: round(floorPerPhoto, 2),
    load_average_start: m.loadAverage.start.join(' / '),
    load_average_end: m.loadAverage.end.join(' / '),
  };
  row.floor = {
    header_first_set_ms: round(m.floor.setMs, 1),
    header_first_ms_per_photo: round(floorPerPhoto, 2),
    header_first_cpu_ms_per_photo: round(m.floor.cpuMsPerPhoto, 2),
    header_first_rss_growth_mb: round(m.floor.rssGrowthMb, 1),
  };
  row.figureText =
    `p50 ${ms(perPhoto.p50)} a photo (p95 ${ms(perPhoto.p95)}; CPU ${ms(m.cpuMsPerPhoto)} a photo), ${count}-photo set ${round(setMs / 1000, 1)} s ` +
    `(${round(m.trainingSetMs / 1000, 1)} s as a training upload runs it, each photo also prepared for the trainer), ` +
    `memory +${round(m.rssGrowthMb)} MB (peak RSS of the inspecting process)`;
  row.floorText =
    `header-first: ${round(floorPerPhoto, 2)} ms a photo (CPU ${round(m.floor.cpuMsPerPhoto, 2)} ms), the set ${ms(m.floor.setMs)}, ` +
    `memory +${round(m.floor.rssGrowthMb)} MB`;
  row.ratio = round(perPhoto.p50 / floorPerPhoto, 0);
  row.ratioText = `${row.ratio}× the header-first check (p50)`;
  row.pass = perPhoto.p50 <= GOAL.p50Ms && worstSetMs <= GOAL.setMs && m.rssGrowthMb <= GOAL.memoryMb;
  row.notes.push(
    `Measured in a process of its own (node --import tsx, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}), RSS ${round(m.rssBeforeMb)} MB before the pool; ` +
      `${m.threads} inspection thread (FACE_CHECK_THREADS), which loads the model once (warm-up ${ms(m.warmUpMs)}, not counted). ` +
      `The thread compiles TypeScript with tsx here; the built service runs JavaScript. Load average ${m.loadAverage.start.join(' / ')} at the start, ${m.loadAverage.end.join(' / ')} at the end.`,
  );
  if (!row.pass) {
    const missed = [
      perPhoto.p50 > GOAL.p50Ms ? `p50 ${ms(perPhoto.p50)} > ${GOAL.p50Ms} ms` : '',
      worstSetMs > GOAL.setMs ? `set ${round(worstSetMs / 1000, 1)} s > ${GOAL.setMs / 1000} s` : '',
      m.rssGrowthMb > GOAL.memoryMb ? `memory +${round(m.rssGrowthMb)} MB > ${GOAL.memoryMb} MB` : '',
    ].filter(Boolean);
    row.notes.push(`Missed: ${missed.join('; ')}.`);
  }
  return row;
}

/** The measuring process: see the top of this file. */
async function child(inputFile: string): Promise<Measured> {
  const files = JSON.parse(fs.readFileSync(inputFile, 'utf8')) as ReceivedFile[];
  // The defaults, as a service without FACE_CHECK_* settings runs them.
  const settings = loadConfig(MINIMAL_ENV).faceCheck;
  const loadStart = os.loadavg().map((l) => round(l, 2));
  const gc = (global as { gc?: () => void }).gc;

  // The floor: the header-first checks of the same files (best of 3).
  gc?.();
  const floorBefore = rss();
  const floorPeak = sampleRss();
  const floorRuns: Array<{ ms: number; cpuMs: number }> = [];
  for (let i = 0; i < 3; i++) {
    const cpu0 = process.cpuUsage();
    const t = performance.now();
    await checkTrainingImages(files, { minImages: 1 });
    const cpu = process.cpuUsage(cpu0);
    floorRuns.push({ ms: performance.now() - t, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  const floor = floorRuns.reduce((a, b) => (b.ms < a.ms ? b : a));
  const floorGrowth = floorPeak.stop() - floorBefore;

  gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const before = rss();
  // Writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS (Linux ≥ 4.0).
  let hwmReset = true;
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    hwmReset = false;
  }
  const peak = sampleRss();
  const inspector = createFaceInspector({
    threads: settings.threads,
    maxQueued: settings.maxQueued,
    maxQueuedPerAccount: settings.maxQueuedPerAccount,
    analyze: { maxSidePx: settings.maxSidePx, minScore: settings.minScore, maxPixels: DEFAULT_IMAGE_RULES.maxPixels },
  });
  try {
    const t0 = performance.now();
    await inspector.analyze('bench', [files[0]!.path]); // starts the thread and loads the model
    const warmUpMs = performance.now() - t0;

    const perPhotoMs: number[] = [];
    const cpu0 = process.cpuUsage();
    for (const f of files) {
      const t = performance.now();
      const [outcome] = await inspector.analyze('bench', [f.path]);
      if (!outcome?.ok) throw new Error(`${f.filename} was not inspected: ${outcome && !outcome.ok ? outcome.error : 'no answer'}`);
      perPhotoMs.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    const setRunsMs: number[] = [];
    let setFindings = 0;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const report = await inspectPhotoSet({ inspector, settings, rules: {} }, 'bench', files);
      setRunsMs.push(performance.now() - t);
      setFindings = report.findings.length;
    }
    const t1 = performance.now();
    await inspectPhotoSet({ inspector, settings, rules: {} }, 'bench', files, { prepare: true });
    const trainingSetMs = performance.now() - t1;
    const sampled = peak.stop() - before;
    const hwm = hwmReset ? status('VmHWM') - before : null;
    return {
      photos: files.length,
      threads: inspector.stats().threads,
      floor: { setMs: floor.ms, cpuMsPerPhoto: floor.cpuMs / files.length, rssGrowthMb: floorGrowth / MB },
      warmUpMs,
      perPhotoMs,
      cpuMsPerPhoto: (cpu.user + cpu.system) / 1000 / files.length,
      setRunsMs,
      trainingSetMs,
      setFindings,
      rssBeforeMb: before / MB,
      rssGrowthMb: Math.max(sampled, hwm ?? 0) / MB,
      rssGrowthSampledMb: sampled / MB,
      rssGrowthHwmMb: hwm === null ? null : hwm / MB,
      rssGrowthAtEndMb: (rss() - before) / MB,
      loadAverage: { start: loadStart, end: os.loadavg().map((l) => round(l, 2)) },
    };
  } finally {
    await inspector.close();
  }
}

const rss = () => process.memoryUsage().rss;

/** A field of /proc/self/status in bytes (VmRSS, VmHWM). */
function status(field: string): number {
  const line = fs.readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(/(\d+)\s*kB/.exec(line ?? '')?.[1] ?? NaN) * 1024;
}

/** The largest RSS seen every 20 ms until stop(). */
function sampleRss(): { stop(): number } {
  let peak = rss();
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rss());
    },
  };
}

/** Thirty 12 MP JPEGs: ten crops of each of three people, scaled up to phone size. Cached between runs. */
async function photos(dir: string, count: number): Promise<ReceivedFile[]> {
  fs.mkdirSync(dir, { recursive: true });
  const people = ['a', 'b', 'c'] as const;
  const out: ReceivedFile[] = [];
  const sets = new Map<string, Awaited<ReturnType<typeof samePersonSet>>>();
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `photo-${String(i + 1).padStart(2, '0')}.jpg`);
    if (!fs.existsSync(file)) {
      const person = people[i % people.length]!;
      if (!sets.has(person)) sets.set(person, await samePersonSet(person));
      const variant = sets.get(person)![Math.floor(i / people.length) % 10]!;
      const buf = await sharp(variant.buffer).resize(3000, 4000, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
      fs.writeFileSync(`${file}.tmp`, buf);
      fs.renameSync(`${file}.tmp`, file);
    }
    const content = fs.readFileSync(file);
    out.push({
      field: 'images',
      filename: path.basename(file),
      declaredType: 'image/jpeg',
      path: file,
      sizeBytes: content.length,
      sha256: createHash('sha256').update(content).digest('hex'),
      truncated: false,
    });
  }
  return out;
}

if (require.main === module && process.argv[2] === '--child') {
  child(process.argv[3]!).then(
    (measured) => {
      process.stdout.write(`${JSON.stringify(measured)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
