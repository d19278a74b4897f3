/**
 * B4: memory during a training upload. A fresh API and worker (child processes, so RSS is per
 * process) take 30 photos × ~10 MB (quick: 10 × ~2.5 MB) through POST /versions/train/{payment}:
 * the API receives, checks and stores them; the worker re-encodes them into the training zip.
 * Figure: each process's peak RSS growth over its RSS just before the upload, until the model
 * is trained. Floor: the same processes' growth for 10 small photos (the fixed cost of the path),
 * after a first warm-up upload.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { BenchContext } from '../context';
import { postMultipartFiles } from '../http-client';
import { benchPhotos, withComment } from '../photos';
import { cpuMeter, watchMemory } from '../proc';
import type { RowResult } from '../report';
import { startService, type BenchUser, type Service } from '../service';
import { round, sleep } from '../stats';
import { paidPayment, photos } from '../../../test/helpers/factories';
import { cpuGroups, emptyRow } from './common';

const MB = 1024 * 1024;
const BUDGET_MB = 150;

export function b4PhotoSpec(quick: boolean) {
  return quick ? { count: 10, width: 2000, height: 1500, quality: 96, sigma: 30 } : { count: 30, width: 4000, height: 3000, quality: 96, sigma: 30 };
}

async function smallPhotos(dir: string, tag: string): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const bufs = await photos(10, 600);
  return bufs.map((b, i) => {
    const file = path.join(dir, `${tag}-${i + 1}.jpg`);
    fs.writeFileSync(file, withComment(b, `bench ${tag} ${i}`)); // distinct across trainings
    return file;
  });
}

async function waitTrained(svc: Service, user: BenchUser, versionId: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await svc.http.json('GET', `/api/v1/versions/info/${versionId}`, { headers: user.headers });
    const status = String(res.body?.status);
    if (['succeeded', 'failed', 'canceled'].includes(status)) return status;
    if (Date.now() > deadline) return `${status} (timed out)`;
    await sleep(200);
  }
}

interface Growth {
  baseline: number;
  peak: number;
  growth: number;
  method: string;
}
interface Measured {
  floor: { api: Growth; worker: Growth };
  big: { api: Growth; worker: Growth; postMs: number; totalMs: number };
  cpu: ReturnType<ReturnType<typeof cpuMeter>['stop']>;
}

/** On fresh API and worker processes: a warm-up upload, the floor (10 small photos), then `files`. */
async function measure(ctx: BenchContext, name: string, files: string[], env: Record<string, string> = {}): Promise<Measured> {
  const svc = await startService(ctx, name, env);
  try {
    const user = await svc.createUser();
    const upload = async (set: string[], what: string) => {
      const payment = await paidPayment(svc.db, user.id);
      const res = await postMultipartFilesAs(svc, user, `/api/v1/versions/train/${payment.id}`, set);
      if (res.status !== 202) throw new Error(`${what}: POST /versions/train answered ${res.status}: ${JSON.stringify(res.body).slice(0, 400)}`);
      const status = await waitTrained(svc, user, res.body.version_id, 10 * 60_000);
      if (status !== 'succeeded') throw new Error(`${what}: the training ended ${status}`);
      return res.ms;
    };
    const small = path.join(ctx.runDir, `${name}-small-photos`);
    await upload(await smallPhotos(small, 'warmup'), 'warm-up upload');
    const watched = async (set: string[], what: string) => {
      const api = watchMemory(svc.api.pid);
      const worker = watchMemory(svc.worker.pid);
      const started = Date.now();
      const postMs = await upload(set, what);
      const totalMs = Date.now() - started;
      return { api: api.stop(), worker: worker.stop(), postMs, totalMs };
    };
    const floor = await watched(await smallPhotos(small, 'floor'), 'floor upload');
    const meter = cpuMeter(cpuGroups(ctx, svc));
    const big = await watched(files, 'measured upload');
    return { floor, big, cpu: meter.stop() };
  } finally {
    await svc.stop();
  }
}

export async function b4TrainingUploadMemory(ctx: BenchContext): Promise<RowResult> {
  const spec = b4PhotoSpec(ctx.quick);
  const row = emptyRow('B4', `memory on a training upload (${spec.count} photos)`, `API and worker peak RSS growth ≤ ${BUDGET_MB} MB each`);
  const files = await benchPhotos(path.join(ctx.benchDir, 'photos'), spec);
  const uploadBytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);
  ctx.replicate.setKnobs({ training_latency_ms: 300, latency_ms: 50, create_rate_limit_per_minute: null });
  const { floor, big, cpu } = await measure(ctx, 'b4', files);
  row.cpu = cpu;

  const apiMb = big.api.growth / MB;
  const workerMb = big.worker.growth / MB;
  row.figures = {
    photos: files.length,
    upload_mb: round(uploadBytes / MB),
    api_rss_before_mb: round(big.api.baseline / MB),
    api_peak_growth_mb: round(apiMb),
    worker_rss_before_mb: round(big.worker.baseline / MB),
    worker_peak_growth_mb: round(workerMb),
    post_seconds: round(big.postMs / 1000, 1),
    upload_mb_per_s: round(uploadBytes / MB / (big.postMs / 1000), 1),
    seconds_until_trained: round(big.totalMs / 1000, 1),
    method: big.api.method,
  };
  row.floor = { photos: 10, api_peak_growth_mb: round(floor.api.growth / MB), worker_peak_growth_mb: round(floor.worker.growth / MB) };
  row.figureText =
    `${files.length} photos, ${round(uploadBytes / MB)} MB: API +${round(apiMb)} MB, worker +${round(workerMb)} MB peak RSS ` +
    `(POST ${round(big.postMs / 1000, 1)} s, trained after ${round(big.totalMs / 1000, 1)} s)`;
  row.floorText = `10 small photos: API +${round(floor.api.growth / MB)} MB, worker +${round(floor.worker.growth / MB)} MB`;
  const worst = Math.max(apiMb, workerMb);
  const worstFloor = Math.max(floor.api.growth, floor.worker.growth, MB) / MB;
  row.ratio = round(worst / worstFloor, 1);
  row.ratioText = `${row.ratio}× (larger growth)`;
  const misses: string[] = [];
  if (apiMb > BUDGET_MB) misses.push(`API grew ${round(apiMb)} MB`);
  if (workerMb > BUDGET_MB) misses.push(`worker grew ${round(workerMb)} MB`);
  row.pass = misses.length === 0;
  row.notes.push(`RSS: ${big.api.method}; upload streamed from disk by the bench.`);
  if (misses.length) row.notes.push(`Missed: ${misses.join('; ')} (budget ${BUDGET_MB} MB; upload ${round(uploadBytes / MB)} MB).`);

  if (!ctx.quick && process.env.MALLOC_ARENA_MAX === undefined) {
    // The worker decodes 12 MP photos on libvips threads; glibc gives each thread its own malloc
    // arena and keeps what they freed. The same upload with two arenas shows how much that is.
    const capped = await measure(ctx, 'b4-arenas', files, { MALLOC_ARENA_MAX: '2' });
    row.figures.api_peak_growth_mb_malloc_arena_max_2 = round(capped.big.api.growth / MB);
    row.figures.worker_peak_growth_mb_malloc_arena_max_2 = round(capped.big.worker.growth / MB);
    row.notes.push(
      `The same upload on fresh processes with MALLOC_ARENA_MAX=2 (glibc malloc arenas capped): API +${round(capped.big.api.growth / MB)} MB, ` +
        `worker +${round(capped.big.worker.growth / MB)} MB.`,
    );
  }
  return row;
}

function postMultipartFilesAs(svc: Service, user: BenchUser, pathname: string, files: string[]) {
  return postMultipartFiles(
    svc.http,
    pathname,
    files.map((p) => ({ field: 'images', path: p, contentType: 'image/jpeg' })),
    {},
    user.headers,
  );
}
