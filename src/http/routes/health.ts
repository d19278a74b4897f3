import { Router } from 'express';
import type { AppDeps } from '../deps';

const CHECK_TIMEOUT_MS = 2000;

/** Liveness, and readiness with one verdict per dependency (503 if any is down). */
export function createHealthRouter({ db, temporal, storage, provider }: AppDeps): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  router.get('/health/ready', async (_req, res) => {
    const checks = {
      postgres: () => db.$queryRaw`SELECT 1`,
      temporal: () => temporal.workflowService.getSystemInfo({}),
      s3: () => storage.ping(),
      provider: () => provider.getWebhookSecret(),
    };
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await probe(check)] as const),
    );
    const components = Object.fromEntries(results);
    const ready = results.every(([, r]) => r.status === 'up');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', components });
  });
  return router;
}

async function probe(check: () => Promise<unknown>): Promise<{ status: 'up' | 'down'; latency_ms: number; error?: string }> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up', latency_ms: Date.now() - started };
  } catch (err) {
    return { status: 'down', latency_ms: Date.now() - started, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
