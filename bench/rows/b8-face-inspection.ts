/**
 * B8: face inspection of training photos (src/images/faces), beside B5's header-first check.
 * 30 phone-sized photos (12 MP JPEGs, 3000×4000, made from the real sample photos inside
 * @vladmandic/face-api: ten crops of each of three people, so the set check has work to do) go
 * through the real thread pool and model, as POST /photos/inspect runs them:
 *  - per photo, one at a time on a warm pool: p50 and p95 latency (decode, detection, landmarks,
 *    descriptor, sharpness and exposure);
 *  - the whole set through inspectPhotoSet (header checks, faces, the same-person check);
 *  - memory: this process's RSS (the threads live in it) sampled every 50 ms, the peak against
 *    the RSS before the pool existed.
 * The floor is the header-first check of the same files (B5's kind of work).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { loadConfig } from '../../src/config';
import { inspectPhotoSet } from '../../src/images/faces/inspect-set';
import { createFaceInspector } from '../../src/images/faces/pool';
import { checkTrainingImages, DEFAULT_IMAGE_RULES } from '../../src/images/validate';
import type { ReceivedFile } from '../../src/shared/multipart';
import { samePersonSet } from '../../test/fixtures/faces';
import { MINIMAL_ENV } from '../../test/helpers/config';
import type { BenchContext } from '../context';
import type { RowResult } from '../report';
import { round } from '../stats';
import { emptyRow, ms } from './common';

const GOAL = { p50Ms: 250, setMs: 8_000, memoryMb: 150 };

export async function b8FaceInspection(ctx: BenchContext): Promise<RowResult> {
  const count = 30;
  const row = emptyRow('B8', `face inspection (${count} × 12 MP JPEG)`, `p50 ≤ ${GOAL.p50Ms} ms a photo, a ${count}-photo set ≤ ${GOAL.setMs / 1000} s, memory ≤ +${GOAL.memoryMb} MB`);
  const files = await photos(path.join(ctx.benchDir, 'face-photos'), count);
  // The defaults, as a service without FACE_CHECK_* settings runs them.
  const settings = loadConfig(MINIMAL_ENV).faceCheck;

  // The floor: the header-first checks of the same files (best of 3).
  const floors: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await checkTrainingImages(files, { minImages: 1 });
    floors.push(performance.now() - t);
  }
  const floorMs = Math.min(...floors);

  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
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

    const perPhoto: number[] = [];
    // CPU of the whole process (the threads included): what a photo costs whatever else runs on the machine.
    const cpu0 = process.cpuUsage();
    for (const f of files) {
      const t = performance.now();
      const [outcome] = await inspector.analyze('bench', [f.path]);
      if (!outcome?.ok) throw new Error(`${f.filename} was not inspected: ${outcome && !outcome.ok ? outcome.error : 'no answer'}`);
      perPhoto.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpu0);
    const cpuMsPerPhoto = (cpu.user + cpu.system) / 1000 / files.length;
    const sets: number[] = [];
    let findings = 0;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const report = await inspectPhotoSet({ inspector, settings, rules: {} }, 'bench', files);
      sets.push(performance.now() - t);
      findings = report.findings.length;
    }
    const sorted = [...perPhoto].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)]!;
    const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
    const setMs = Math.min(...sets);
    const growthMb = (rssPeak - rssBefore) / 1024 / 1024;
    row.figures = {
      photos: count,
      threads: settings.threads,
      warm_up_ms: round(warmUpMs),
      p50_ms_per_photo: round(p50, 1),
      p95_ms_per_photo: round(p95, 1),
      cpu_ms_per_photo: round(cpuMsPerPhoto, 1),
      set_ms: round(setMs),
      set_runs_ms: JSON.stringify(sets.map((s) => round(s))),
      set_findings: findings,
      rss_growth_mb: round(growthMb, 1),
      header_first_ms_per_photo: round(floorMs / count, 2),
    };
    row.floor = { header_first_ms: round(floorMs, 1), header_first_ms_per_photo: round(floorMs / count, 2) };
    row.figureText = `p50 ${ms(p50)} a photo (p95 ${ms(p95)}, CPU ${ms(cpuMsPerPhoto)}), ${count}-photo set ${ms(setMs)}, memory +${round(growthMb)} MB`;
    row.floorText = `header-first ${round(floorMs / count, 2)} ms a photo`;
    row.ratio = round(p50 / (floorMs / count), 0);
    row.ratioText = `${row.ratio}× the header-first check`;
    row.pass = p50 <= GOAL.p50Ms && setMs <= GOAL.setMs && growthMb <= GOAL.memoryMb;
    row.notes.push(`One inspection thread (FACE_CHECK_THREADS=${settings.threads}); the model loads once per thread (warm-up ${ms(warmUpMs)}, not counted).`);
    if (!row.pass) {
      const missed = [
        p50 > GOAL.p50Ms ? `p50 ${ms(p50)} > ${GOAL.p50Ms} ms` : '',
        setMs > GOAL.setMs ? `set ${ms(setMs)} > ${GOAL.setMs / 1000} s` : '',
        growthMb > GOAL.memoryMb ? `memory +${round(growthMb)} MB > ${GOAL.memoryMb} MB` : '',
      ].filter(Boolean);
      row.notes.push(`Missed: ${missed.join('; ')}.`);
    }
    return row;
  } finally {
    clearInterval(sampler);
    await inspector.close();
  }
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
