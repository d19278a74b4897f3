import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';
import { LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY } from '../../src/production-secrets';
import { MINIMAL_ENV } from '../helpers/config';

const minimal = MINIMAL_ENV;

describe('loadConfig', () => {
  it('when the required keys are set, then defaults fill the rest', () => {
    const c = loadConfig(minimal);
    expect(c.http.port).toBe(3000);
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'imagegen' });
    expect(c.replicate.baseUrl).toBe('https://api.replicate.com/v1');
    expect(c.replicate.webhookSecret).toBeUndefined();
  });

  it('when several keys are wrong, then one error lists every problem', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ ...minimal, DATABASE_URL: 'mysql://x', PORT: 'eighty', API_KEY_PEPPER: 'short' });
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error!.problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('DATABASE_URL'),
        expect.stringContaining('PORT'),
        expect.stringContaining('API_KEY_PEPPER'),
      ]),
    );
    expect(error!.message).toContain('Invalid configuration');
  });
});

describe('loadConfig with empty values', () => {
  it('when a key is present but empty (a copied .env), then it counts as unset', () => {
    const c = loadConfig({ ...minimal, S3_ENDPOINT: '', STRIPE_API_BASE: '', PORT: '' });
    expect(c.s3.endpoint).toBeUndefined();
    expect(c.stripe.apiBase).toBeUndefined();
    expect(c.http.port).toBe(3000);
  });
});

describe('loadConfig in production', () => {
  /** A production environment whose secrets look real (random, from no example). */
  const real = {
    ...minimal,
    NODE_ENV: 'production',
    API_KEY_PEPPER: 'Zq3v8Kx1pT7mR2nB6wY4cL9hF0sJ5dGa',
    DATABASE_URL: 'postgresql://imagegen:Wm4tQ8zP2rX6kN1v@db.internal:5432/imagegen',
    S3_SECRET_ACCESS_KEY: 'u7Hc2LqP9xZ4mB1nR6tV3wK8yD5fJ0sA',
    REPLICATE_API_TOKEN: 'r8_Nf3kP8qT2xW6mZ1vB4cR7yH9sL0dJ5gA',
    REPLICATE_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLGpW',
    STRIPE_SECRET_KEY: 'sk_live_51Hx8Kq2eZvKYlo2C9mT4pR7wN3bF6sD1aG0hJ5kL8zX',
    STRIPE_WEBHOOK_SECRET: 'whsec_4kP8qT2xW6mZ1vB4cR7yH9sL0dJ5gAnF',
    WEBHOOK_SECRET_ENCRYPTION_KEY: 'pT7mR2nB6wY4cL9hF0sJ5dGaZq3v8Kx1u7Hc2LqP9xZ4',
  };
  const problemsOf = (env: Record<string, string | undefined>): string[] => {
    try {
      loadConfig(env as NodeJS.ProcessEnv);
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.problems;
    }
  };
  /** KEY=value lines of an example file. */
  const exampleValues = (file: string): Record<string, string> =>
    Object.fromEntries(
      readFileSync(join(__dirname, '../..', file), 'utf8')
        .split('\n')
        .map((line) => /^([A-Z][A-Z0-9_]*)=(\S*)/.exec(line.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );

  it('when every secret is real, then it loads, only https output hosts of the provider are allowed, and the provider host is not added', () => {
    const c = loadConfig(real);
    expect(c.env).toBe('production');
    expect(c.replicate.outputHosts).toEqual(['replicate.delivery', '*.replicate.delivery']);
    expect(loadConfig({ ...real, NODE_ENV: 'test', REPLICATE_BASE_URL: 'http://127.0.0.1:8787/v1' }).replicate.outputHosts).toEqual([
      'replicate.delivery',
      '*.replicate.delivery',
      '127.0.0.1',
    ]);
  });

  it('when secrets keep the values of the local defaults, then one error names every one of them', () => {
    const problems = problemsOf({
      ...real,
      API_KEY_PEPPER: 'local-development-pepper-change-me',
      STRIPE_SECRET_KEY: 'sk_test_123',
      STRIPE_WEBHOOK_SECRET: 'whsec_replace_me',
      S3_SECRET_ACCESS_KEY: 'minioadmin',
      DATABASE_URL: 'postgresql://imagegen:local-trial-app-db-password@app-db:5432/imagegen',
      PORT: 'eighty',
    });
    const keys = problems.map((p) => p.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining(['API_KEY_PEPPER', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'S3_SECRET_ACCESS_KEY', 'DATABASE_URL', 'PORT']));
    expect(problems.join('\n')).not.toContain('local-development-pepper-change-me');
    expect(problems.find((p) => p.startsWith('API_KEY_PEPPER'))).toContain('placeholder');
  });

  it('when the webhook secret encryption key is unset or the local default, then production refuses to start', () => {
    expect(problemsOf({ ...real, WEBHOOK_SECRET_ENCRYPTION_KEY: undefined })).toEqual([expect.stringMatching(/^WEBHOOK_SECRET_ENCRYPTION_KEY: must be set in production/)]);
    expect(problemsOf({ ...real, WEBHOOK_SECRET_ENCRYPTION_KEY: LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY })).toEqual([expect.stringMatching(/^WEBHOOK_SECRET_ENCRYPTION_KEY: still has a placeholder/)]);
    expect(loadConfig({ ...real, NODE_ENV: 'development', WEBHOOK_SECRET_ENCRYPTION_KEY: undefined }).webhooks.secrets.encryptionKey).toBe(LOCAL_WEBHOOK_SECRET_ENCRYPTION_KEY);
  });

  it('when a webhook secret is not set, then production refuses to start and says which', () => {
    const problems = problemsOf({ ...real, REPLICATE_WEBHOOK_SECRET: '', STRIPE_WEBHOOK_SECRET: undefined });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^REPLICATE_WEBHOOK_SECRET: must be set in production/), expect.stringMatching(/^STRIPE_WEBHOOK_SECRET: must be set in production/)]),
    );
    // Outside production the Replicate secret may still be fetched from the provider.
    expect(problemsOf({ ...real, NODE_ENV: 'development', REPLICATE_WEBHOOK_SECRET: '' })).toEqual([]);
  });

  it('when the secrets of deploy/compose.env.example or .env.example are used as they are, then each one is refused', () => {
    const compose = exampleValues('deploy/compose.env.example');
    const composeSecrets = ['API_KEY_PEPPER', 'S3_SECRET_ACCESS_KEY', 'REPLICATE_API_TOKEN', 'REPLICATE_WEBHOOK_SECRET', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'WEBHOOK_SECRET_ENCRYPTION_KEY', 'METRICS_TOKEN'];
    for (const key of composeSecrets) {
      expect(compose[key]).toBeTruthy();
      const problems = problemsOf({ ...real, [key]: compose[key] });
      expect({ key, problems }).toEqual({ key, problems: [expect.stringMatching(new RegExp(`^${key}: still has a placeholder`))] });
    }
    const dbUrl = `postgresql://imagegen:${compose.APP_DB_PASSWORD}@app-db:5432/imagegen`;
    expect(problemsOf({ ...real, DATABASE_URL: dbUrl })).toEqual([expect.stringMatching(/^DATABASE_URL: the password still has a placeholder/)]);

    const dotenv = exampleValues('.env.example');
    expect(problemsOf({ ...real, API_KEY_PEPPER: dotenv.API_KEY_PEPPER })).toEqual([expect.stringMatching(/^API_KEY_PEPPER: still has a placeholder/)]);
  });

  it('when the test environment of this repository is used with NODE_ENV=production, then it is refused', () => {
    const keys = problemsOf({ ...minimal, NODE_ENV: 'production' }).map((p) => p.split(':')[0]);
    expect(keys).toEqual(expect.arrayContaining(['API_KEY_PEPPER', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'REPLICATE_WEBHOOK_SECRET']));
  });
});
