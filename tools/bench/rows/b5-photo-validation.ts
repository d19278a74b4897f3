/**
 * B5: photo validation. compareValidation (tools/bench/validation-timing.ts) over 12 MP JPEGs:
 * header-first inspection (what uploads run) against a full pixel decode of the same files,
 * each pass sequential. The full decode is the floor column: what validating by decoding costs.
 * Wall time of short, I/O-hopping work suffers most from a busy machine, so the figure is the
 * best of a few repetitions, and the CPU time of each pass is printed too.
 */
import path from 'node:path';
import sharp from 'sharp';
import { compareValidation } from '../validation-timing';
import { inspectImageFile } from '../../../src/images/inspect';
import type { BenchContext } from '../context';
import { benchPhotos } from '../photos';
import type { RowResult } from '../report';
import { round } from '../stats';
import { emptyRow, ms } from './common';

async function cpuMsOf(paths: string[], work: (p: string) => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  for (const p of paths) await work(p);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

export async function b5PhotoValidation(ctx: BenchContext): Promise<RowResult> {
  const count = ctx.quick ? 10 : 30;
  const reps = ctx.quick ? 2 : 3;
  const row = emptyRow('B5', `photo validation (${count} × 12 MP JPEG)`, 'header-first ≥ 10× faster than a full decode');
  const files = await benchPhotos(path.join(ctx.benchDir, 'photos'), { count, width: 4000, height: 3000, quality: 96, sigma: 30 });
  await compareValidation(files.slice(0, 2)); // load sharp's codecs and the files into the page cache
  const runs: Array<{ headerFirstMs: number; fullDecodeMs: number }> = [];
  for (let i = 0; i < reps; i++) runs.push(await compareValidation(files));
  const headerFirstMs = Math.min(...runs.map((r) => r.headerFirstMs));
  const fullDecodeMs = Math.min(...runs.map((r) => r.fullDecodeMs));
  const headerCpu = await cpuMsOf(files, (p) => inspectImageFile(p));
  const decodeCpu = await cpuMsOf(files, (p) => sharp(p).raw().toBuffer());
  const speedup = fullDecodeMs / headerFirstMs;
  row.figures = {
    photos: count,
    repetitions: reps,
    header_first_ms: round(headerFirstMs, 1),
    header_first_ms_per_photo: round(headerFirstMs / count, 2),
    full_decode_ms: round(fullDecodeMs),
    speedup: round(speedup, 1),
    header_first_cpu_ms: round(headerCpu, 1),
    full_decode_cpu_ms: round(decodeCpu),
    cpu_speedup: round(decodeCpu / headerCpu, 1),
    all_runs: JSON.stringify(runs.map((r) => [round(r.headerFirstMs), round(r.fullDecodeMs)])),
  };
  row.floor = { full_decode_ms: round(fullDecodeMs), full_decode_ms_per_photo: round(fullDecodeMs / count, 1) };
  row.figureText = `header-first ${ms(headerFirstMs)} (${round(headerFirstMs / count, 2)} ms/photo; CPU ${round(decodeCpu / headerCpu, 1)}× less than decoding)`;
  row.floorText = `full decode ${ms(fullDecodeMs)} (${round(fullDecodeMs / count)} ms/photo)`;
  row.ratio = round(speedup, 1);
  row.ratioText = `${row.ratio}× faster`;
  row.pass = speedup >= 10;
  row.notes.push(`Best of ${reps} runs of compareValidation (header-first ms, full decode ms): ${row.figures.all_runs}.`);
  if (!row.pass) row.notes.push(`Missed: header-first is only ${round(speedup, 1)}× faster in wall time; in CPU time ${round(decodeCpu / headerCpu, 1)}×.`);
  return row;
}
