import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type BuildOptions } from '../../src/app.ts';
import { buildService } from '../../src/service-app.ts';
import type { AppConfig } from '../../shared/config.ts';
import { httpClient, type HttpClient } from './http-client.ts';
import { testConfig } from './test-config.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

// The HTTP client and the test configuration live in their own files so that a module booted
// alone (module-test.ts) uses them without loading src/app.ts and every module.
export { httpClient, type ApiResponse, type CallOptions, type HttpClient } from './http-client.ts';


/**
 * How the suite wires the payments module: `in-process` (default), or `remote` (environment
 * `TEST_PAYMENTS_WIRING=remote`, `npm run test:remote-payments`): every {@link startTestApp} then
 * also starts the payments service (src/service-app.ts) on a database of its own, and the app
 * calls it over HTTP (PAYMENTS_URL), as `npm run start:service -- payments` would run it.
 */
export const PAYMENTS_WIRING: 'in-process' | 'remote' = process.env.TEST_PAYMENTS_WIRING === 'remote' ? 'remote' : 'in-process';

/** The secret the test payments service and its callers share. */
const TEST_SERVICE_TOKEN = 'test-service-token-that-is-at-least-32-characters';

/** A payments service started for a test (remote wiring). */
export interface TestPaymentsService {
  app: FastifyInstance;
  url: string;
  db: TestDatabase;
  /** The environment that points an app at it (PAYMENTS_URL, SERVICE_TOKEN). */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the payments service on 127.0.0.1 with a random port, on a fresh test database (or
 * `opts.database`), with `opts.env` (e.g. event settings) and the card `provider` given.
 */
export async function startTestPaymentsService(opts: { database?: TestDatabase; env?: Record<string, string>; provider?: NonNullable<BuildOptions['payments']>['provider'] } = {}): Promise<TestPaymentsService> {
  const db = opts.database ?? (await createTestDatabase());
  // A small pool: the service does little per call, and a remote-wiring suite runs one beside
  // every app on the same PostgreSQL (100 connections here).
  const config = { ...testConfig(db.config, { ...opts.env, SERVICE_TOKEN: TEST_SERVICE_TOKEN }), ...(db.config.kind === 'postgres' ? { database: { ...db.config, poolMax: 3 } } : {}) };
  const app = await buildService('payments', config, opts.provider ? { payments: { provider: opts.provider } } : {});
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return {
    app,
    url,
    db,
    env: { PAYMENTS_URL: url, SERVICE_TOKEN: TEST_SERVICE_TOKEN },
    async close() {
      try {
        await app.close();
      } finally {
        if (!opts.database) await db.drop();
      }
    },
  };
}

/** A running app on a random port over its own test database. */
export interface TestApp {
  app: FastifyInstance;
  api: HttpClient;
  config: AppConfig;
  db: TestDatabase;
  /**
   * The database holding the payments: `db` in-process, the payments service's in the remote
   * wiring (reconciliation tests read `payments.payments` here).
   */
  paymentsDb: TestDatabase;
  /** The payments service this app calls (remote wiring), started with it unless given. */
  paymentsService?: TestPaymentsService;
  close(): Promise<void>;
}

/**
 * Starts the whole API, listening on 127.0.0.1 with a random port, on a fresh test database
 * (see `createTestDatabase`), or on `opts.database` when several apps must share one. In the
 * remote wiring ({@link PAYMENTS_WIRING}) it calls `opts.paymentsService`, or starts its own
 * (with `opts.env` and the card provider of `opts.build.payments`), closed with the app.
 */
export async function startTestApp(
  opts: { database?: TestDatabase; env?: Record<string, string>; build?: BuildOptions; paymentsService?: TestPaymentsService } = {},
): Promise<TestApp> {
  const db = opts.database ?? (await createTestDatabase());
  const ownService =
    PAYMENTS_WIRING === 'remote' && !opts.paymentsService && !opts.env?.PAYMENTS_URL
      ? await startTestPaymentsService({ ...(opts.env ? { env: opts.env } : {}), ...(opts.build?.payments?.provider ? { provider: opts.build.payments.provider } : {}) })
      : undefined;
  const paymentsService = opts.paymentsService ?? ownService;
  const config = testConfig(db.config, { ...opts.env, ...paymentsService?.env });
  const { payments: _inProcessPayments, ...remoteBuild } = opts.build ?? {};
  const app = await buildApp(config, paymentsService ? remoteBuild : opts.build);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    api: httpClient(`http://127.0.0.1:${port}`),
    config,
    db,
    paymentsDb: paymentsService?.db ?? db,
    ...(paymentsService ? { paymentsService } : {}),
    async close() {
      // Each step runs even when one before it fails (a test that broke the app on purpose), so
      // no payments service or test database is left behind.
      try {
        await app.close();
      } finally {
        try {
          await ownService?.close();
        } finally {
          if (!opts.database) await db.drop();
        }
      }
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
  const b = await startTestApp({ database: db, build: { skipMigrations: true }, ...(a.paymentsService ? { paymentsService: a.paymentsService } : {}) });
  return {
    db,
    a,
    b,
    async close() {
      await b.close();
      await a.close();
      await db.drop();
    },
  };
}
