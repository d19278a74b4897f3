// The rules the compiler cannot hold. `npm run lint` runs it; `npm test` runs it first.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

/** Node's built-in modules, as workflow code may not import them (the workflow sandbox has none). */
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', 'src/generated/**', 'dist/**', '.tools/**', '.data/**', '.bench/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  {
    // .tsx: the web console (web/, its own tsconfig), where a floating promise is a lost error too.
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // A promise nobody awaits fails silently, and in workflow code it is a command issued out of order.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  {
    // Workflow code is replayed: it may import only deterministic code. Activities are
    // imported as types only; value imports from src/ are limited to the pure shared modules.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a deterministic sandbox without Node built-ins; do this in an activity.' })),
          patterns: [
            { group: ['../activities', '../activities/*'], allowTypeImports: true, message: 'Workflows import activities as types only (proxyActivities).' },
            {
              regex: '^\\.\\./src/(?!error-codes$|temporal/names$|temporal/search-attributes$|temporal/request-id-header$|provider/prediction$|events/types$)',
              allowTypeImports: true,
              message: 'Workflows import values only from the pure shared modules: src/error-codes, src/temporal/names, src/temporal/search-attributes, src/temporal/request-id-header, src/provider/prediction, src/events/types.',
            },
            {
              group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@prisma/*', 'pg', 'sharp', 'archiver', 'replicate', 'stripe', '@aws-sdk/*', 'express'],
              allowTypeImports: true,
              message: 'Workflow code may not use I/O libraries; do this in an activity.',
            },
          ],
        },
      ],
    },
  },
);
