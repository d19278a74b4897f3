import { defineConfig } from 'vite';

/**
 * The web console: `npm run build:web` (scripts/build-web.mjs) builds it into web/dist, which the
 * API serves at `/` (src/http/console.ts). No dev server is needed: the console talks to the API
 * it is served from.
 */
export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true },
  oxc: { jsx: { runtime: 'automatic' } },
});
