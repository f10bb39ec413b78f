import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { buildApp, type BuildOptions } from '../../src/app.ts';
import { loadConfig, type AppConfig, type DatabaseConfig } from '../../shared/config.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

/** What a test gets back from an HTTP call: status, headers, and the parsed JSON body (if any). */
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

/** Options of a call: bearer token, extra headers, and a raw (unserialised) body. */
export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
  raw?: string;
}

/** A tiny HTTP client bound to a running app: real sockets, real JSON. */
export function httpClient(baseUrl: string) {
  const call = async <T = any>(method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<ApiResponse<T>> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let payload: string | undefined = opts.raw;
    if (body !== undefined) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    baseUrl,
    get: <T = any>(path: string, opts?: CallOptions) => call<T>('GET', path, undefined, opts),
    post: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('POST', path, body, opts),
    put: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('PUT', path, body, opts),
    patch: <T = any>(path: string, body?: unknown, opts?: CallOptions) => call<T>('PATCH', path, body, opts),
    delete: <T = any>(path: string, opts?: CallOptions) => call<T>('DELETE', path, undefined, opts),
    call,
  };
}
export type HttpClient = ReturnType<typeof httpClient>;

/** A running app on a random port over its own test database. */
export interface TestApp {
  app: FastifyInstance;
  api: HttpClient;
  config: AppConfig;
  db: TestDatabase;
  close(): Promise<void>;
}

/** Test configuration: quiet logs, a fixed JWT secret, and the given database. */
export function testConfig(database: DatabaseConfig, env: Record<string, string> = {}): AppConfig {
  return {
    ...loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
      JWT_SECRET: 'test-secret-that-is-at-least-32-characters-long',
      // Suites log in a lot from one IP; tests of the limits set their own.
      LOGIN_RATE_LIMIT_PER_IP: '100000',
      LOGIN_RATE_LIMIT_PER_ACCOUNT: '100000',
      SIGNUP_RATE_LIMIT_PER_IP: '100000',
      ...env,
    }),
    database,
  };
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
