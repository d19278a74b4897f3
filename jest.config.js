/**
 * Two tiers, both in `npm test`:
 *  - fast: no services (lint rules, config, import graph, image checks, multipart, offline replay).
 *    `npm run test:fast` runs it alone for the inner loop, in about a minute.
 *  - stack: against the real local stack (Temporal dev server, Postgres, MinIO, stripe-mock), which
 *    test/global-setup.ts starts once, only when a test of this tier is selected.
 */
const FAST = ['unit', 'images', 'http', 'replay'];

const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }] },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
};

module.exports = {
  testTimeout: 60_000,
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'fast',
      testMatch: FAST.map((dir) => `<rootDir>/test/${dir}/**/*.test.ts`),
    },
    {
      ...common,
      displayName: 'stack',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', ...FAST.map((dir) => `<rootDir>/test/${dir}/`)],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
