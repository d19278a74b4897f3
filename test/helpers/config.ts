/** The smallest environment loadConfig accepts: every required key, nothing else. */
export const MINIMAL_ENV = {
  API_KEY_PEPPER: 'a-long-enough-pepper',
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/app',
  S3_ACCESS_KEY_ID: 'k',
  S3_SECRET_ACCESS_KEY: 's',
  S3_BUCKET: 'bucket',
  REPLICATE_API_TOKEN: 'r8_x',
  STRIPE_SECRET_KEY: 'sk_test_1',
  STRIPE_WEBHOOK_SECRET: 'whsec_1',
};
