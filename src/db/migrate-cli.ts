import { migrate } from './migrate';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is required');
  process.exit(2);
}
migrate(url, { log: (m) => console.log(m) })
  .then((ran) => console.log(ran.length ? `${ran.length} migration(s) applied` : 'database is up to date'))
  .catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
