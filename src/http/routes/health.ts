import { Router } from 'express';
import type { AppDeps } from '../deps';

const CHECK_TIMEOUT_MS = 2000;
/**
 * How long one readiness verdict is served again. Probes and load balancers may poll as often as
 * they like: the dependencies (the provider's API among them) are asked at most once per this.
 */
export const READY_CACHE_MS = 3000;

type ComponentStatus = 'up' | 'down';
interface Readiness {
  status: 'ready' | 'unavailable';
  components: Record<string, { status: ComponentStatus }>;
}

/**
 * Liveness, and readiness with one verdict per dependency (503 if any is down). The answer is
 * discreet: component names and up or down; why a component is down goes to the log only.
 */
export function createHealthRouter({ db, temporal, storage, provider, logger }: AppDeps): Router {
  const router = Router();
  router.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });

  const checks: Record<string, () => Promise<unknown>> = {
    postgres: () => db.$queryRaw`SELECT 1`,
    temporal: () => temporal.workflowService.getSystemInfo({}),
    s3: () => storage.ping(),
    provider: () => provider.getWebhookSecret(),
  };
  let cached: { at: number; readiness: Readiness } | undefined;
  let inFlight: Promise<Readiness> | undefined;

  const check = async (): Promise<Readiness> => {
    const results = await Promise.all(Object.entries(checks).map(async ([name, fn]) => [name, await probe(fn)] as const));
    const down = results.filter(([, r]) => r.status === 'down');
    if (down.length > 0) logger.warn({ down: Object.fromEntries(down.map(([name, r]) => [name, r.error])) }, 'readiness: a dependency is down');
    return {
      status: down.length === 0 ? 'ready' : 'unavailable',
      components: Object.fromEntries(results.map(([name, r]) => [name, { status: r.status }])),
    };
  };

  router.get('/health/ready', async (_req, res) => {
    if (!cached || Date.now() - cached.at >= READY_CACHE_MS) {
      // One check at a time: concurrent requests wait for the same answer.
      inFlight ??= check().finally(() => {
        inFlight = undefined;
      });
      const readiness = await inFlight;
      cached = { at: Date.now(), readiness };
    }
    res
      .status(cached.readiness.status === 'ready' ? 200 : 503)
      .set('Cache-Control', `max-age=${Math.floor(READY_CACHE_MS / 1000)}`)
      .json(cached.readiness);
  });
  return router;
}

async function probe(check: () => Promise<unknown>): Promise<{ status: ComponentStatus; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
