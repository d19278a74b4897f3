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

/** Runs the check and prints one line per model with its problems and notes; the exit code (0: no problem, 1: problems). */
export async function main(argv: string[], opts: { env?: NodeJS.ProcessEnv; log?: (line: string) => void } = {}): Promise<number> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => console.log(line));
  const { values } = parseArgs({ args: argv, options: { trained: { type: 'string' } } });
  const url = env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const baseUrl = (env.REPLICATE_BASE_URL ?? REAL_API).replace(/\/$/, '');
  const db = createDb(url, 1);
  try {
    const newest = await db.modelVersion.findFirst({
      where: { status: 'succeeded', providerModel: { not: null }, providerVersion: { not: null } },
      orderBy: { trainedAt: 'desc' },
    });
    const trainedVersion = values.trained ?? (newest ? `${newest.providerModel}:${newest.providerVersion}` : undefined);
    const replicate = new Replicate({ auth: env.REPLICATE_API_TOKEN ?? '', baseUrl });
    const reports = await checkAllContracts({ db, replicate }, { devOnly: baseUrl !== REAL_API, trainedVersion });
    for (const r of reports) {
      log(`${r.problems.length ? 'FAIL' : 'ok  '} ${r.model}`);
      for (const p of r.problems) log(`     problem: ${p}`);
      for (const n of r.notes) log(`     note: ${n}`);
    }
    return reports.some((r) => r.problems.length) ? 1 : 0;
  } finally {
    await db.$disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(err.message);
      process.exit(2);
    },
  );
}
