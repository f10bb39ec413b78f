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
      ...env,
    }),
    database,
  };
}
