import { ConfigError, loadConfig } from '../../src/config';

const minimal = {
  API_KEY_PEPPER: 'a-long-enough-pepper',
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/app',
  S3_ACCESS_KEY_ID: 'k',
  S3_SECRET_ACCESS_KEY: 's',
  S3_BUCKET: 'bucket',
  REPLICATE_API_TOKEN: 'r8_x',
  STRIPE_SECRET_KEY: 'sk_test_1',
  STRIPE_WEBHOOK_SECRET: 'whsec_1',
};

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
