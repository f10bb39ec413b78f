import { existsSync } from 'node:fs';
import postgres from 'postgres';
import type { DatabaseConfig } from '../../shared/config.ts';

/** A database made for one test file (or one multi-instance test) and dropped afterwards. */
export interface TestDatabase {
  config: DatabaseConfig;
  /** Which backend: the machine's PostgreSQL (DATABASE_URL), a testcontainer, or embedded PGlite. */
  backend: 'postgres' | 'testcontainers' | 'pglite';
  drop(): Promise<void>;
}

/**
 * The request pool of an app on a test database: small, because up to 4 test files run at once
 * with up to three apps each (and, in the remote wiring, a payments service beside each) on one
 * PostgreSQL with 100 connections (the CI run once failed on `too many clients` with 10).
 */
const TEST_POOL_MAX = 4;

/** True when tests run on a real PostgreSQL server (races are only meaningful there). */
export const onRealPostgres = () => Boolean(process.env.DATABASE_URL) || process.env.TEST_DATABASE === 'testcontainers';

/**
 * Makes a fresh, empty database:
 * - `DATABASE_URL` set (CI, the local PostgreSQL): a new database `pos_test_<random>` on that
 *   server, created through the URL's database and dropped with FORCE at the end;
 * - else, with Docker (`TEST_DATABASE=testcontainers`, or a Docker socket present): a
 *   PostgreSQL 17 container from testcontainers;
 * - else: an in-memory PGlite (PostgreSQL compiled to WASM).
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = process.env.DATABASE_URL;
  if (url) {
    const name = `pos_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const target = new URL(url);
    target.pathname = `/${name}`;
    return {
      backend: 'postgres',
      config: { kind: 'postgres', url: target.toString(), poolMax: TEST_POOL_MAX },
      async drop() {
        const a = postgres(url, { max: 1, onnotice: () => {} });
        await a.unsafe(`drop database if exists ${name} with (force)`);
        await a.end();
      },
    };
  }
  const wantsContainers =
    process.env.TEST_DATABASE === 'testcontainers' || (process.env.TEST_DATABASE !== 'pglite' && existsSync('/var/run/docker.sock') && process.env.CI !== 'true');
  if (wantsContainers) {
    try {
      const { PostgreSqlContainer } = await import('@testcontainers/postgresql');
      const container = await new PostgreSqlContainer('postgres:17-alpine').start();
      return {
        backend: 'testcontainers',
        config: { kind: 'postgres', url: container.getConnectionUri(), poolMax: 10 },
        drop: async () => void (await container.stop()),
      };
    } catch (error) {
      if (process.env.TEST_DATABASE === 'testcontainers') throw error;
      // A Docker client without a running engine: fall through to PGlite.
    }
  }
  return { backend: 'pglite', config: { kind: 'pglite', dataDir: 'memory://' }, drop: async () => {} };
}
