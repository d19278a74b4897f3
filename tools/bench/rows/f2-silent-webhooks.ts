/**
 * F2: silent webhooks. One account's 300 jobs each name a webhook (its own URL, so each is its
 * own endpoint with its own circuit breaker) on a receiver that accepts every connection and
 * never answers. Once those jobs are done and their deliveries hold every webhook slot, another
 * account sends 50 jobs (2/s, each with a webhook to a receiver that answers, `completed` only).
 * Figure: the other account's job latency (POST sent → completed_at), against the same 50 jobs
 * sent the same way on the same service just before, with no silent webhook (the floor). Also
 * reported, not judged: when the other account's `completed` webhooks arrived, and how many
 * silent attempts were open while it ran.
 */
import type { BenchContext } from '../context';
import { cpuMeter } from '../proc';
import type { RowResult } from '../report';
import { startService, type Service } from '../service';
import { round, sleep, summarize } from '../stats';
import { startReceiver, startSilentReceiver } from '../../../test/events/webhook-receiver';
import { cpuGroups, emptyRow, jobBody, ms, waitAllFinal } from './common';
import { latenciesOf, phasesText, submitPaced, type Latencies, type Sent } from './isolation';

const MODEL_LATENCY_MS = 1000;
const GOAL_RATIO = 1.2;
/** The silent account's pace: below the create queue's 10/s, so its jobs queue behind nothing. */
const SILENT_PER_SECOND = 8;
const OTHER_EVERY_MS = 500;
/** WEBHOOK_WORKER_CONCURRENCY of the service (the default, written out so the row says what it ran with). */
const WEBHOOK_SLOTS = 20;
const WARMUP_JOBS = 5;

export async function f2SilentWebhooks(ctx: BenchContext): Promise<RowResult> {
  const row = emptyRow('F2', 'silent webhooks: 300 jobs whose receiver never answers', `other account's 50 jobs: p99 ≤ ${GOAL_RATIO}× their clean p99; all succeed`);
  const silentJobs = ctx.quick ? 40 : 300;
  const otherJobs = ctx.quick ? 10 : 50;
  const [receiver, silent] = await Promise.all([startReceiver(), startSilentReceiver()]);
  let svc: Service | undefined;
  try {
    // the receivers are on loopback over plain http: allowed only with WEBHOOK_ALLOW_LOOPBACK (never in production)
    svc = await startService(ctx, 'f2', { WEBHOOK_WORKER_CONCURRENCY: String(WEBHOOK_SLOTS), WEBHOOK_ALLOW_LOOPBACK: 'true' });
    const s = svc;
    ctx.replicate.setKnobs({ latency_ms: MODEL_LATENCY_MS, failure_rate: 0, create_rate_limit_per_minute: null });
    const [noisy, other] = await Promise.all([s.createUser(), s.createUser()]);

    /** The other account's jobs, each with a webhook (completed only) to the answering receiver. */
    let resent = 0;
    const otherRun = async (phase: string, count = otherJobs) => {
      const sent = await submitPaced(s, other, count, OTHER_EVERY_MS, (i) => ({
        ...jobBody(`bench F2 ${phase} ${i}`),
        webhook: receiver.url(`/other/${phase}/${i}`),
        webhook_events_filter: ['completed'],
      }));
      const lat = await latenciesOf(ctx, s, sent, 120_000);
      const hooks = await webhookDelays(receiver, phase, sent, lat, ctx.quick ? 60_000 : 180_000);
      resent += sent.resent;
      return { sent, lat, hooks };
    };

    // a few jobs first, not measured: the new processes' code paths (webhooks too) warm up
    await otherRun('warm-up', WARMUP_JOBS);

    // ---- the floor: the other account's jobs on a clean service ----
    const clean = await otherRun('clean');

    // ---- the silent account: every job's deliveries hang ----
    let refused = 0;
    const silentSent: Sent[] = [];
    const interval = 1000 / SILENT_PER_SECOND;
    const t0 = Date.now();
    for (let i = 0; i < silentJobs; i++) {
      const due = t0 + i * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      const sentAt = Date.now();
      const res = await s.http
        .json('POST', '/api/v1/generate', { json: { ...jobBody(`bench F2 silent ${i}`), webhook: silent.url(`/silent/${i}`) }, headers: noisy.headers })
        .catch((err: Error) => ({ status: 0, body: err.message, ms: 0 }));
      if (res.status === 202) silentSent.push({ index: i, jobId: res.body.job_id, sentAt, postMs: res.ms });
      else {
        refused++;
        await sleep(1000);
        i--; // a 429 (too many active jobs), 503 or lost request: wait and send the same job again
        if (refused > silentJobs) throw new Error(`the silent account's jobs were refused ${refused} times (last: ${res.status} ${JSON.stringify(res.body).slice(0, 200)})`);
      }
    }
    const silentDone = await waitAllFinal(s, silentSent.map((x) => x.jobId), 180_000, ctx.log);
    // every webhook slot held by a silent attempt
    const slotsHeldBy = Date.now() + 30_000;
    while (silent.openSince(Date.now()).length < WEBHOOK_SLOTS && Date.now() < slotsHeldBy) await sleep(200);
    const openAtStart = silent.openSince(Date.now()).length;
    ctx.log(`  F2: ${silentSent.length} silent-webhook jobs done (${JSON.stringify(silentDone.counts)}); ${openAtStart} silent attempts open; the other account's jobs now`);

    // ---- the other account's jobs while the silent deliveries hold the slots ----
    const openSamples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        openSamples.push(silent.openSince(Date.now()).length);
        await sleep(250);
      }
    })();
    const cpu = cpuMeter(cpuGroups(ctx, s));
    const during = await otherRun('during');
    row.cpu = cpu.stop();
    sampling = false;
    await sampler;
    const silentAttempts = silent.connections().length;
    const endpoints = await s.db.webhookEndpoint.count({ where: { userId: noisy.id } });
    const pausedEndpoints = await s.db.webhookEndpoint.count({ where: { userId: noisy.id, pausedUntil: { gt: new Date() } } });

    const c = clean.lat.summary;
    const d = during.lat.summary;
    const ratio = d.p99 / c.p99;
    row.figures = {
      silent_jobs: silentSent.length,
      silent_jobs_succeeded: silentDone.counts.succeeded ?? 0,
      silent_attempts_so_far: silentAttempts,
      silent_endpoints: endpoints,
      silent_endpoints_paused_at_end: pausedEndpoints,
      silent_open_at_start: openAtStart,
      silent_open_min_during: Math.min(...openSamples),
      silent_open_max_during: Math.max(...openSamples),
      silent_open_median_during: summarize(openSamples).p50,
      silent_max_open_ever: silent.maxOpen(),
      webhook_slots: WEBHOOK_SLOTS,
      other_jobs: during.lat.jobs,
      other_succeeded: during.lat.succeeded,
      other_p50_ms: round(d.p50),
      other_p99_ms: round(d.p99),
      other_max_ms: round(d.max),
      other_webhook_delay_p50_ms: round(during.hooks.summary.p50),
      other_webhook_delay_p99_ms: round(during.hooks.summary.p99),
      other_webhooks_received: during.hooks.received,
      clean_webhook_delay_p50_ms: round(clean.hooks.summary.p50),
      clean_webhook_delay_p99_ms: round(clean.hooks.summary.p99),
      other_posts_resent: resent,
    };
    row.floor = { jobs: clean.lat.jobs, succeeded: clean.lat.succeeded, p50_ms: round(c.p50), p99_ms: round(c.p99), max_ms: round(c.max) };
    row.figureText =
      `other account, while silent attempts held the ${WEBHOOK_SLOTS} webhook slots (${openAtStart} at the start, median ${summarize(openSamples).p50}, min ${Math.min(...openSamples)}): ` +
      `${during.lat.succeeded}/${during.lat.jobs} jobs, p50 ${ms(d.p50)}, p99 ${ms(d.p99)}; its completed webhooks ${during.hooks.received}/${otherJobs} received, ` +
      `p50 ${ms(during.hooks.summary.p50)}, p99 ${ms(during.hooks.summary.p99)} after completion (clean: p99 ${ms(clean.hooks.summary.p99)})`;
    row.floorText = `the same ${otherJobs} jobs clean: p50 ${ms(c.p50)}, p99 ${ms(c.p99)}`;
    row.ratio = round(ratio, 2);
    row.ratioText = `${row.ratio}× (p99)`;
    const misses: string[] = [];
    if (!(ratio <= GOAL_RATIO)) misses.push(`the other account's p99 is ${round(ratio, 2)}× its clean p99 (goal ≤ ${GOAL_RATIO}×)`);
    if (during.lat.succeeded < otherJobs || clean.lat.succeeded < otherJobs) misses.push(`the other account's jobs did not all succeed (clean ${clean.lat.succeeded}, during ${during.lat.succeeded} of ${otherJobs})`);
    if (openAtStart < WEBHOOK_SLOTS) misses.push(`only ${openAtStart} silent attempts were open when the other account started (the slots were not all held)`);
    row.pass = misses.length === 0;
    row.notes.push(
      `Model ${MODEL_LATENCY_MS / 1000} s, no provider limit in this row; create queue ${ctx.createRatePerSecond}/s. The silent account sent ${silentSent.length} jobs at ${SILENT_PER_SECOND}/s ` +
        `(${refused} refused or lost and resent after 1 s), each webhook its own URL (an endpoint and breaker each) with every event; its jobs finished first, so the other account's jobs ` +
        `share the service with the hanging deliveries only, not with the silent account's generation work. The webhook worker: ${WEBHOOK_SLOTS} slots, ` +
        `3 s connect and 8 s attempt timeouts (defaults). The other account: ${otherJobs} jobs, one every ${OTHER_EVERY_MS} ms, clean first (the floor), then while the slots were held; ` +
        `latency = POST sent → completed_at. Its webhook delay (completed_at → its receiver got the completed event) is reported, not judged: its deliveries take turns with the ` +
        `silent ones on the same ${WEBHOOK_SLOTS} slots (fairness by account), and a slot held by a silent attempt frees only when the attempt times out. ` +
        `By the end ${silentAttempts} silent attempts had been made and ${pausedEndpoints} of ${endpoints} silent endpoints were paused by their breakers.`,
    );
    if (resent) row.notes.push(`${resent} of the other account's POSTs were answered 503 or lost and sent again after 1 s (same Idempotency-Key); their latency counts from the first send.`);
    row.notes.push(`The other account's jobs, p50 / p99 of each part, clean: ${phasesText(clean.lat.phases)}; with the slots held: ${phasesText(during.lat.phases)}.`);
    if (misses.length) row.notes.push(`Missed: ${misses.join('; ')}.`);
    return row;
  } finally {
    await svc?.stop();
    await Promise.all([receiver.close(), silent.close()]);
  }
}

/** completed_at → the answering receiver got the job's `completed` webhook, for the jobs that succeeded. */
async function webhookDelays(
  receiver: Awaited<ReturnType<typeof startReceiver>>,
  phase: string,
  sent: Sent[],
  lat: Latencies,
  timeoutMs: number,
): Promise<{ summary: ReturnType<typeof summarize>; received: number }> {
  const deadline = Date.now() + timeoutMs;
  const got = () => sent.filter((x) => receiver.at(`/other/${phase}/${x.index}`).some((r) => r.json?.status === 'succeeded'));
  while (got().length < lat.succeeded && Date.now() < deadline) await sleep(200);
  const delays: number[] = [];
  sent.forEach((x) => {
    const completed = lat.completedAt.get(x.jobId);
    const hit = receiver.at(`/other/${phase}/${x.index}`).find((r) => r.json?.status === 'succeeded');
    if (completed !== undefined && hit) delays.push(hit.at - completed);
  });
  return { summary: summarize(delays), received: delays.length };
}
