/**
 * Checks each catalog model's input contract (and the trained-model contract) against the
 * input schema the provider publishes: every field users may set exists there with a
 * compatible type, range and enum. Exits 1 on any problem.
 *
 *   DATABASE_URL=... REPLICATE_API_TOKEN=... npm run catalog:check [-- --trained owner/name:version]
 *
 * REPLICATE_BASE_URL (default the real API) points it at the local provider, whose extras
 * (`dev_only` fields) are then checked too. Without --trained, the newest trained model in
 * the database is used, if there is one.
 */
import { parseArgs } from 'node:util';
import Replicate from 'replicate';
import { checkAllContracts } from '../src/catalog/check-contracts';
import { createDb } from '../src/db/client';

const REAL_API = 'https://api.replicate.com/v1';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { trained: { type: 'string' } } });
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const baseUrl = (process.env.REPLICATE_BASE_URL ?? REAL_API).replace(/\/$/, '');
  const db = createDb(url, 1);
  try {
    const newest = await db.modelVersion.findFirst({
      where: { status: 'succeeded', providerModel: { not: null }, providerVersion: { not: null } },
      orderBy: { trainedAt: 'desc' },
    });
    const trainedVersion = values.trained ?? (newest ? `${newest.providerModel}:${newest.providerVersion}` : undefined);
    const replicate = new Replicate({ auth: process.env.REPLICATE_API_TOKEN ?? '', baseUrl });
    const reports = await checkAllContracts({ db, replicate }, { devOnly: baseUrl !== REAL_API, trainedVersion });
    for (const r of reports) {
      console.log(`${r.problems.length ? 'FAIL' : 'ok  '} ${r.model}`);
      for (const p of r.problems) console.log(`     problem: ${p}`);
      for (const n of r.notes) console.log(`     note: ${n}`);
    }
    return reports.some((r) => r.problems.length) ? 1 : 0;
  } finally {
    await db.$disconnect();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(2);
  },
);
