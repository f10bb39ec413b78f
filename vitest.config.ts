import { availableParallelism } from 'node:os';
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
    // Most test time is waiting (PostgreSQL, child processes, event delivery, timers), so two
    // files per core keep the CPU busy: on 2 cores the suite took 2 min with 4 workers against
    // 4.7 with 2. Capped at 4 so the apps' connections stay well under PostgreSQL's default
    // max_connections (100): with request pools of 10 and event buses of 4 the remote-payments
    // run once hit `too many clients` in CI (peak seen locally: 67); test apps now use 4 and 2
    // (test/support/test-database.ts, test-config.ts), peak seen 44.
    maxWorkers: Math.min(4, 2 * availableParallelism()),
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
    // One known driver bug is not ours to fail on: postgres.js 3.4.9 runs an array-type catalog
    // query on every new connection and leaves its rejection unhandled when the connection is
    // killed meanwhile (porsager/postgres#1192, #1223, open); the fault tests kill connections on
    // purpose. The server logs such a rejection and keeps serving (src/server.ts, crash policy).
    // Every other unhandled error still fails the run.
    onUnhandledError: (error) => !String((error as { query?: unknown }).query ?? '').includes('b.typarray'),
  },
});
