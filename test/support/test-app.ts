import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type BuildOptions } from '../../src/app.ts';
import type { AppConfig } from '../../shared/config.ts';
import { httpClient, type HttpClient } from './http-client.ts';
import { testConfig } from './test-config.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

// The HTTP client and the test configuration live in their own files so that a module booted
// alone (module-test.ts) uses them without loading src/app.ts and every module.
export { httpClient, type ApiResponse, type CallOptions, type HttpClient } from './http-client.ts';


/** A running app on a random port over its own test database. */
export interface TestApp {
  app: FastifyInstance;
  api: HttpClient;
  config: AppConfig;
  db: TestDatabase;
  close(): Promise<void>;
}

/**
 * Starts the whole API, listening on 127.0.0.1 with a random port, on a fresh test database
 * (see `createTestDatabase`), or on `opts.database` when several apps must share one.
 */
export async function startTestApp(opts: { database?: TestDatabase; env?: Record<string, string>; build?: BuildOptions } = {}): Promise<TestApp> {
  const db = opts.database ?? (await createTestDatabase());
  const config = testConfig(db.config, opts.env);
  const app = await buildApp(config, opts.build);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    api: httpClient(`http://127.0.0.1:${port}`),
    config,
    db,
    async close() {
      await app.close();
      if (!opts.database) await db.drop();
    },
  };
}

/** Two app instances sharing one fresh test database (the second skips migrations), as behind a load balancer. */
export interface TwoInstances {
  db: TestDatabase;
  a: TestApp;
  b: TestApp;
  /** Stops both instances, then drops the database. */
  close(): Promise<void>;
}

/** Starts {@link TwoInstances}: `a` migrates the new database, `b` starts on it as it is. */
export async function startTwoInstances(): Promise<TwoInstances> {
  const db = await createTestDatabase();
  const a = await startTestApp({ database: db });
  const b = await startTestApp({ database: db, build: { skipMigrations: true } });
  return {
    db,
    a,
    b,
    async close() {
      await a.close();
      await b.close();
      await db.drop();
    },
  };
}
