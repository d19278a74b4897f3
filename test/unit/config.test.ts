import { ConfigError, loadConfig } from '../../src/config';
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
