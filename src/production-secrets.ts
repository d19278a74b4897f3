/**
 * What production refuses to start with: a secret left at a value from the examples
 * (.env.example, deploy/compose.env.example), from `npm start`'s local defaults or from the
 * test helpers, and an unset webhook secret (then anyone could send us "payment succeeded" or
 * "prediction finished"). loadConfig lists these problems next to the schema's; the messages
 * name the key, never the value.
 */

/** The key webhook signing secrets are encrypted with outside production (config's default). */
export const LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY = 'local-development-webhook-secret-encryption-key';

/** Values published in this repository: the examples, the local stack's defaults, the tests. */
const PUBLISHED_VALUES = new Set([
  // .env.example
  'change-me-to-32-random-bytes',
  // deploy/compose.env.example
  'local-trial-pepper-change-me-0123456789',
  'local-trial-app-db-password',
  'local-trial-temporal-db-password',
  'local-trial-minio-password',
  'local-trial-grafana-password',
  'local-trial-metrics-token',
  'r8_replace_me',
  'sk_test_replace_me',
  'whsec_replace_me',
  // npm start (tools/dev): pepper, stripe-mock key, local webhook secret, local Replicate token, MinIO root
  'local-development-pepper-change-me',
  'sk_test_123',
  'whsec_local_development_only',
  'r8_local',
  'minioadmin',
  'minioadmin-local-secret',
  // test/helpers
  'test-pepper-0123456789',
  'a-long-enough-pepper',
  'whsec_test_secret_for_signed_events',
  'sk_test_1',
  'whsec_1',
  'r8_test',
  'r8_x',
  LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY,
]);

/** Shapes of placeholders someone may type when copying an example. */
const PLACEHOLDER_PATTERNS = [/change[-_]?me/i, /replace[-_]?me/i, /^local[-_](trial|development|dev)\b/i, /^minioadmin/i, /example/i];

export function isPlaceholderSecret(value: string): boolean {
  const v = value.trim();
  return PUBLISHED_VALUES.has(v) || PLACEHOLDER_PATTERNS.some((p) => p.test(v));
}

/** Secrets that must be real in production; the webhook secrets must be set, too. */
const SECRETS = [
  'API_KEY_PEPPER',
  'S3_SECRET_ACCESS_KEY',
  'REPLICATE_API_TOKEN',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'REPLICATE_WEBHOOK_SECRET',
  'METRICS_TOKEN',
  'WEBHOOK_SECRET_ENCRYPTION_KEY',
] as const;
const REQUIRED = new Set<string>(['STRIPE_WEBHOOK_SECRET', 'REPLICATE_WEBHOOK_SECRET', 'WEBHOOK_SECRET_ENCRYPTION_KEY']);
const PLACEHOLDER = 'still has a placeholder value (from the examples or the local defaults); set a real secret (NODE_ENV=production)';

/** Every problem with the secrets of a production environment (empty values count as unset). */
export function productionSecretProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  for (const key of SECRETS) {
    const value = env[key]?.trim();
    if (!value) {
      if (REQUIRED.has(key)) {
        const why = key === 'WEBHOOK_SECRET_ENCRYPTION_KEY' ? 'the stored webhook signing secrets are encrypted with it' : 'webhooks are verified with it';
        problems.push(`${key}: must be set in production (${why})`);
      }
      continue;
    }
    if (isPlaceholderSecret(value)) problems.push(`${key}: ${PLACEHOLDER}`);
  }
  const dbPassword = databasePassword(env.DATABASE_URL);
  if (dbPassword !== undefined && isPlaceholderSecret(dbPassword)) problems.push(`DATABASE_URL: the password ${PLACEHOLDER}`);
  return problems;
}

function databasePassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password || undefined;
  } catch {
    return undefined;
  }
}
