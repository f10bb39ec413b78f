import { loadConfig, type AppConfig, type DatabaseConfig } from '../../shared/config.ts';

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
      // Up to 4 files run at once, some with two or three apps and (remote wiring) a payments
      // service beside each, all on one PostgreSQL (100 connections by default): each app keeps
      // its event bus to 2 connections and its request pool to 4 (test-database.ts).
      EVENT_POOL_MAX: '2',
      ...env,
    }),
    database,
  };
}
