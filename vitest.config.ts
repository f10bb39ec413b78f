import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.tmp/**'],
    pool: 'forks',
    // Each file gets its own database, so files run in parallel safely.
    fileParallelism: true,
    // Test files reuse their worker process instead of a fresh one each: the modules (fastify,
    // drizzle, zod, PGlite's WASM) are loaded once per worker, not once per file, which cut the
    // suite by about a fifth. Files share nothing else: each has its own database and app, and
    // the one file that spies on a module restores it in a finally.
    isolate: false,
    testTimeout: 30_000,
    // `--coverage` (npm run test:coverage, CI): V8 coverage of the application code, summarised
    // per module by scripts/coverage-by-module.ts.
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts', 'shared/**/*.ts', 'modules/**/*.ts'],
      exclude: ['**/*.test.ts'],
      reporter: ['json-summary', 'text-summary'],
      reportsDirectory: 'coverage',
    },
    hookTimeout: 120_000,
  },
});
