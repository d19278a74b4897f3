/**
 * F3: one API key opens 1,000 event streams (GET /api/v1/jobs/{id}/events of its own running
 * job), 100 at a time, and holds every one it gets. Figures: how many were refused (the cap is
 * SSE_MAX_STREAMS_PER_KEY per API process: 990 of 1,000 expected), other accounts' GET
 * /api/v1/status p99 while the streams are held against the same load just before with no stream
 * (the floor), and the connections to the service's database (pg_stat_activity) before and while
 * the streams are held. No Temporal work is measured: the job only has to stay running.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import { HttpClient } from '../http-client';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startService, type BenchUser, type Service } from '../service';
import { round, sleep, summarize } from '../stats';
import { cpuGroups, emptyRow, jobBody, ms, submit, TERMINAL } from './common';
import { databaseConnections, tcpConnectionsOf } from './isolation';

const STREAMS = 1000;
const CAP_PER_KEY = 10;
const OPEN_AT_ONCE = 100;
const GET_PER_SECOND = 100;
const GOAL_RATIO = 1.2;
/** The API's pool (DATABASE_POOL_SIZE, as the bench runs it) and its two listening connections (API key changes, resource events). */
const API_POOL = 10;
const API_LISTENERS = 2;

interface OpenStream {
  status: number;
  code?: string;
  req: http.ClientRequest;
  res?: http.IncomingMessage;
  ended: boolean;
}

export async function f3Streams(ctx: BenchContext): Promise<RowResult> {
  const row = emptyRow(
    'F3',
    `streams: one key opens ${STREAMS.toLocaleString('en')} event streams`,
    `refused past the cap (${STREAMS - CAP_PER_KEY} of ${STREAMS}); others' GET p99 ≤ ${GOAL_RATIO}× clean; the API's database connections ≤ its pool + ${API_LISTENERS} listeners (${API_POOL + API_LISTENERS})`,
  );
  const windowMs = ctx.quick ? 4_000 : 15_000;
  let svc: Service | undefined;
  const streams: OpenStream[] = [];
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    svc = await startService(ctx, 'f3', { SSE_MAX_STREAMS_PER_KEY: String(CAP_PER_KEY), DATABASE_POOL_SIZE: String(API_POOL) });
    const s = svc;
    const pgPort = Number(new URL(s.databaseUrl).port || 5432);
    /** The API process's own connections to Postgres, sampled every 250 ms while `on`. */
    const apiConnections = () => {
      const samples: number[] = [];
      let on = true;
      const loop = (async () => {
        while (on) {
          samples.push(tcpConnectionsOf(s.api.pid, pgPort));
          await sleep(250);
        }
      })();
      return {
        async stop() {
          on = false;
          await loop;
          return samples.filter(Number.isFinite);
        },
      };
    };
    ctx.replicate.setKnobs({ latency_ms: 0, failure_rate: 0, create_rate_limit_per_minute: null });
    const [streamer, ...others] = await Promise.all([s.createUser(), s.createUser(), s.createUser(), s.createUser()]);

    // Each other account reads its own finished job; the streamer's job stays running.
    const targets: Array<{ user: BenchUser; path: string }> = [];
    for (const user of others) {
      const { jobId } = await submit(s, user, jobBody('bench F3 read', { fake_latency_ms: 0 }));
      await waitStatus(s, user, jobId, (st) => TERMINAL.has(st));
      targets.push({ user, path: `/api/v1/status/${jobId}` });
    }
    const { jobId: heldJob } = await submit(s, streamer, jobBody('bench F3 held', { fake_latency_ms: 20 * 60_000 }));
    await waitStatus(s, streamer, heldJob, (st) => st === 'running');

    // ---- the floor: others' GETs with no stream open ----
    const warmupMs = ctx.quick ? 1_000 : 3_000;
    const apiBefore = apiConnections();
    const clean = await getLoad(s, targets, windowMs, warmupMs);
    const apiConnBefore = await apiBefore.stop();
    const connBefore = await databaseConnections(s);

    // ---- one key opens 1,000 streams, 100 at a time; others' GETs meanwhile (reported) ----
    const cpu = cpuMeter(cpuGroups(ctx, s));
    const url = new URL(s.baseUrl);
    const apiDuring = apiConnections();
    const opening = getLoadUntil(s, targets);
    const openStarted = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: OPEN_AT_ONCE }, async () => {
        while (next < STREAMS) {
          next++;
          streams.push(await openStream(agent, url, `/api/v1/jobs/${heldJob}/events`, streamer.headers));
        }
      }),
    );
    const openSeconds = (performance.now() - openStarted) / 1000;
    const burst = await opening.stop();

    // ---- others' GETs while the streams are held ----
    const connSamples: number[] = [];
    let sampling = true;
    const connSampler = (async () => {
      while (sampling) {
        connSamples.push((await databaseConnections(s)).total);
        await sleep(1000);
      }
    })();
    const held = await getLoad(s, targets, windowMs, warmupMs);
    sampling = false;
    await connSampler;
    const apiConnDuring = await apiDuring.stop();
    const connDuring = await databaseConnections(s);
    connSamples.push(connDuring.total);
    row.cpu = cpu.stop();

    const accepted = streams.filter((x) => x.status === 200);
    const stillOpen = accepted.filter((x) => !x.ended).length;
    const byStatus: Record<string, number> = {};
    for (const x of streams) {
      const k = x.code ? `${x.status} ${x.code}` : String(x.status);
      byStatus[k] = (byStatus[k] ?? 0) + 1;
    }
    const refused = streams.length - accepted.length;
    const tooMany = byStatus['429 too_many_streams'] ?? 0;
    const c = summarize(clean.ms);
    const h = summarize(held.ms);
    const b = summarize(burst.ms);
    const connMax = Math.max(...connSamples);
    const apiMaxBefore = Math.max(...apiConnBefore);
    const apiMaxDuring = Math.max(...apiConnDuring);
    const ratio = h.p99 / c.p99;
    row.figures = {
      streams_tried: streams.length,
      streams_opened: accepted.length,
      streams_refused: refused,
      streams_429_too_many_streams: tooMany,
      streams_by_status: JSON.stringify(byStatus),
      streams_still_open_at_end: stillOpen,
      open_seconds: round(openSeconds, 2),
      held_gets: h.n,
      held_get_p50_ms: round(h.p50, 1),
      held_get_p99_ms: round(h.p99, 1),
      held_get_errors: held.errors,
      burst_gets: b.n,
      burst_get_p99_ms: round(b.p99, 1),
      api_db_connections_max_before: apiMaxBefore,
      api_db_connections_max_during: apiMaxDuring,
      db_connections_before: connBefore.total,
      db_connections_during_max: connMax,
      db_connections_before_by_app: JSON.stringify(connBefore.byApplication),
      db_connections_during_by_app: JSON.stringify(connDuring.byApplication),
      cap_per_key: CAP_PER_KEY,
      get_per_s: GET_PER_SECOND,
    };
    row.floor = { gets: c.n, p50_ms: round(c.p50, 1), p99_ms: round(c.p99, 1), errors: clean.errors, api_db_connections_max: apiMaxBefore, db_connections: connBefore.total };
    row.figureText =
      `${refused}/${streams.length} refused (${tooMany} × 429 too_many_streams), ${accepted.length} held (${stillOpen} still open at the end); ` +
      `others' GET with them held: p50 ${ms(h.p50)}, p99 ${ms(h.p99)} (${held.errors} errors); the API's database connections at most ${apiMaxDuring} (all processes: ${connMax})`;
    row.floorText = `others' GET, no stream: p50 ${ms(c.p50)}, p99 ${ms(c.p99)}; the API's database connections at most ${apiMaxBefore} (all processes: ${connBefore.total})`;
    row.ratio = round(ratio, 2);
    row.ratioText = `${row.ratio}× (GET p99)`;
    const misses: string[] = [];
    if (refused !== STREAMS - CAP_PER_KEY || tooMany !== refused) misses.push(`${refused} refused (${JSON.stringify(byStatus)}), expected ${STREAMS - CAP_PER_KEY} × 429 too_many_streams`);
    if (stillOpen !== accepted.length) misses.push(`${accepted.length - stillOpen} of the held streams ended early`);
    if (!(ratio <= GOAL_RATIO)) misses.push(`others' GET p99 is ${round(ratio, 2)}× the clean p99 (goal ≤ ${GOAL_RATIO}×)`);
    if (held.errors || clean.errors) misses.push(`${held.errors + clean.errors} GETs failed`);
    if (!(apiMaxDuring <= API_POOL + API_LISTENERS)) misses.push(`the API held ${apiMaxDuring} database connections (pool ${API_POOL} + ${API_LISTENERS} listeners)`);
    row.pass = misses.length === 0;
    row.notes.push(
      `SSE_MAX_STREAMS_PER_KEY=${CAP_PER_KEY} (the default), one API process; request limits off (as in every bench row), so only the stream cap refuses. ` +
        `The key opened ${STREAMS} streams of its own running job, ${OPEN_AT_ONCE} requests at a time, in ${round(openSeconds, 2)} s, keeping every stream it got. ` +
        `Others: ${targets.length} accounts GET the status of their own finished job at ${GET_PER_SECOND}/s in all (open loop) for ${windowMs / 1000} s, clean first (the floor), then with the streams held; ` +
        `during the burst of opens their GET p99 was ${ms(b.p99)} (${b.n} GETs; reported, not judged). ` +
        `The API process's own Postgres connections (its sockets, from /proc) sampled every 250 ms: at most ${apiMaxBefore} before, ${apiMaxDuring} while the streams were opened and held ` +
        `(DATABASE_POOL_SIZE=${API_POOL}; the pool grows with concurrent requests and closes idle connections after 10 s, the resource-events listener opens with the first stream). ` +
        `pg_stat_activity of the service's database (API, worker and the bench's own counting client), by application: before ${JSON.stringify(connBefore.byApplication)}, ` +
        `during ${JSON.stringify(connDuring.byApplication)}.`,
    );
    if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
    await s.http.json('DELETE', `/api/v1/jobs/${heldJob}`, { headers: streamer.headers }).catch(() => undefined);
    return row;
  } finally {
    for (const x of streams) x.req.destroy();
    agent.destroy();
    await svc?.stop();
  }
}

async function waitStatus(svc: Service, user: BenchUser, jobId: string, done: (status: string) => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await svc.http.json('GET', `/api/v1/status/${jobId}`, { headers: user.headers });
    if (r.status === 200 && done(r.body.status)) return;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is still ${r.body?.status} after 60 s`);
    await sleep(100);
  }
}

/** Opens one stream; resolves with the answer's status once its head (or, refused, its body) arrived. */
function openStream(agent: http.Agent, url: URL, pathname: string, headers: Record<string, string>): Promise<OpenStream> {
  return new Promise((resolve) => {
    const out: OpenStream = { status: 0, ended: false, req: undefined as unknown as http.ClientRequest };
    out.req = http.request({ host: url.hostname, port: url.port, path: pathname, headers: { ...headers, accept: 'text/event-stream' }, agent }, (res) => {
      out.res = res;
      out.status = res.statusCode ?? 0;
      res.on('close', () => (out.ended = true));
      if (out.status === 200) {
        res.on('data', () => undefined);
        resolve(out);
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          out.code = JSON.parse(Buffer.concat(chunks).toString('utf8'))?.error?.code;
        } catch {
          // not JSON: the status says enough
        }
        resolve(out);
      });
    });
    out.req.on('error', () => {
      out.ended = true;
      resolve(out);
    });
    out.req.end();
  });
}

interface GetResult {
  ms: number[];
  errors: number;
}

/** GETs of the targets, round robin, at GET_PER_SECOND (a fixed schedule) for `durationMs` after `warmupMs` unrecorded. */
async function getLoad(svc: Service, targets: Array<{ user: BenchUser; path: string }>, durationMs: number, warmupMs: number): Promise<GetResult> {
  if (warmupMs) await getLoadUntil(svc, targets).stopAfter(warmupMs);
  return getLoadUntil(svc, targets).stopAfter(durationMs);
}

function getLoadUntil(svc: Service, targets: Array<{ user: BenchUser; path: string }>) {
  const client = new HttpClient(svc.baseUrl, {}, 32);
  const result: GetResult = { ms: [], errors: 0 };
  const pending: Promise<void>[] = [];
  let running = true;
  const loop = (async () => {
    const started = performance.now();
    for (let i = 0; running; i++) {
      const due = started + (i * 1000) / GET_PER_SECOND;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const t = targets[i % targets.length]!;
      pending.push(
        client.request('GET', t.path, { headers: t.user.headers, timeoutMs: 10_000 }).then(
          (r) => {
            if (r.status === 200) result.ms.push(r.ms);
            else result.errors++;
          },
          () => {
            result.errors++;
          },
        ),
      );
    }
  })();
  const stop = async () => {
    running = false;
    await loop;
    await Promise.all(pending);
    client.close();
    return result;
  };
  return {
    stop,
    async stopAfter(ms: number) {
      await sleep(ms);
      return stop();
    },
  };
}
