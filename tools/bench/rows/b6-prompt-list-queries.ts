/**
 * B6: GET /prompts/list/{version_id} for a model with 1, 10 and 100 prompts (each with one
 * image) must cost exactly one database query, whatever the size. Runs the API in this process
 * (test/helpers/test-env.ts, no worker) to see every statement through the runtime's onQuery hook.
 * The API-key check runs before every authenticated route; its queries are counted apart.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BenchContext } from '../context';
import type { RowResult } from '../report';
import { round } from '../stats';
import { trainedVersion } from '../../../test/helpers/factories';
import { startTestEnv } from '../../../test/helpers/test-env';
import { emptyRow, ms } from './common';

const SIZES = [1, 10, 100];
/** The API-key check (src/accounts/service.ts authenticate): api_keys, then users (Prisma's nested select). */
const AUTH_QUERY = /"public"\."(api_keys|users)"/;

export async function b6PromptListQueries(_ctx: BenchContext): Promise<RowResult> {
  const row = emptyRow('B6', 'prompt list: database queries', 'exactly 1 query per list, at 1, 10 and 100 prompts');
  const env = await startTestEnv({ worker: false });
  try {
    const user = await env.createUser();
    const listing: number[] = [];
    const total: number[] = [];
    const latency: number[] = [];
    const items: number[] = [];
    const extra = new Set<string>();
    for (const n of SIZES) {
      const version = await trainedVersion(env.db, user.id);
      const base = Date.now() - n * 1000;
      const prompts = Array.from({ length: n }, (_, i) => ({
        id: randomUUID(),
        userId: user.id,
        versionId: version.id,
        prompt: `bench prompt ${i}`,
        numOutputs: 1,
        status: 'succeeded' as const,
        workflowId: `prompt-${version.id}`,
        createdAt: new Date(base + i * 1000),
      }));
      await env.db.prompt.createMany({ data: prompts });
      await env.db.promptImage.createMany({
        data: prompts.map((p) => ({ id: randomUUID(), promptId: p.id, index: 0, s3Key: `prompts/${p.id}/0.webp`, contentType: 'image/webp', sizeBytes: 1234n, sha256: '0'.repeat(64), width: 256, height: 256 })),
      });
      const url = `/api/v1/prompts/list/${version.id}?limit=100`;
      await env.api.get(url).set(user.auth).expect(200); // warm-up
      const before = env.queries.length;
      const t0 = performance.now();
      const res = await env.api.get(url).set(user.auth).expect(200);
      latency.push(performance.now() - t0);
      const seen = env.queries.slice(before);
      total.push(seen.length);
      const own = seen.filter((q) => !AUTH_QUERY.test(q));
      listing.push(own.length);
      if (own.length !== 1) for (const q of own) extra.add(q.replace(/\s+/g, ' ').slice(0, 160));
      items.push(res.body.items.length);
    }
    row.figures = Object.fromEntries(
      SIZES.flatMap((n, i) => [
        [`queries_${n}`, listing[i]!],
        [`queries_with_auth_${n}`, total[i]!],
        [`items_${n}`, items[i]!],
        [`ms_${n}`, round(latency[i]!, 1)],
      ]),
    );
    row.floor = { queries: 1 };
    row.figureText = `${SIZES.map((n, i) => `${n} prompt${n === 1 ? '' : 's'}: ${listing[i]} quer${listing[i] === 1 ? 'y' : 'ies'} (${ms(latency[i]!)})`).join('; ')}; API-key check: ${total[0]! - listing[0]! ? `${total[0]! - listing[0]!} more` : 'no query (cached by the API)'}`;
    row.floorText = '1 query (the minimum)';
    row.ratio = Math.max(...listing);
    row.ratioText = `${row.ratio}×`;
    const itemsOk = items.every((c, i) => c === SIZES[i]);
    row.pass = listing.every((c) => c === 1) && itemsOk;
    if (!itemsOk) row.notes.push(`Listed ${items.join('/')} items for ${SIZES.join('/')} prompts.`);
    if (!row.pass) row.notes.push(`Missed: ${listing.join('/')} queries for ${SIZES.join('/')} prompts: ${[...extra].map((q) => `\`${q}\``).join(', ')}.`);
    return row;
  } finally {
    await env.stop();
  }
}
