// First, before tfjs loads (see there).
import './no-source-maps';
import './tfjs-core-only';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { analyzePhoto, loadModels, type AnalyzeOptions } from './analyze';

/**
 * Entry of one face-inspection thread (started by pool.ts): loads the model once, then analyzes
 * one photo per message, so the API's event loop never runs a net.
 */
export interface ThreadRequest {
  id: number;
  path: string;
  options: AnalyzeOptions;
  /** Also write the photo's prepared training JPEG here, from the same decode. */
  preparedPath?: string;
}

export type ThreadReply = { id: number; ok: true; analysis: Awaited<ReturnType<typeof analyzePhoto>> } | { id: number; ok: false; error: string };

// One photo at a time per thread: libvips needs no pool of its own here, nor a cache of decoded images.
sharp.concurrency(1);
sharp.cache(false);

const port = parentPort;
if (port) {
  void loadModels().then(
    () => port.postMessage({ ready: true }),
    (err: unknown) => port.postMessage({ ready: false, error: String(err) }),
  );
  port.on('message', (req: ThreadRequest) => {
    analyzePhoto(req.path, req.options, req.preparedPath).then(
      (analysis) => port.postMessage({ id: req.id, ok: true, analysis } satisfies ThreadReply),
      (err: unknown) => port.postMessage({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies ThreadReply),
    );
  });
}
