import { performance } from 'perf_hooks';
import sharp from 'sharp';
import { inspectImageFile } from '../../src/images/inspect';

/**
 * Times header-first inspection of the files against a full pixel decode of the same files,
 * each pass sequential. Inspection runs first so the decode pass cannot warm sharp's cache for it.
 */
export async function compareValidation(paths: string[]): Promise<{ headerFirstMs: number; fullDecodeMs: number }> {
  const headerFirstMs = await timeEach(paths, (path) => inspectImageFile(path));
  const fullDecodeMs = await timeEach(paths, (path) => sharp(path).raw().toBuffer());
  return { headerFirstMs, fullDecodeMs };
}

async function timeEach(paths: string[], work: (path: string) => Promise<unknown>): Promise<number> {
  const start = performance.now();
  for (const path of paths) await work(path);
  return performance.now() - start;
}
