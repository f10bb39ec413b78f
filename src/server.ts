import { pino, type Logger } from 'pino';
import { ConfigError, loadConfig, type AppConfig } from '../shared/config.ts';
import { isDatabaseUnavailable } from '../shared/database-errors.ts';
import { openDatabase, type DatabaseHandle } from '../shared/database.ts';
import type { FastifyInstance } from 'fastify';
import { buildApp, type BuildOptions } from './app.ts';
import { startTracing } from './telemetry.ts';

/** Exit code when the database did not answer within DATABASE_STARTUP_TIMEOUT_SECONDS (sysexits EX_UNAVAILABLE). */
export const EXIT_DATABASE_UNAVAILABLE = 69;
/** Exit code for an invalid environment (sysexits EX_CONFIG). */
export const EXIT_CONFIG = 78;
/** Exit code after an uncaught exception outside the database driver (sysexits EX_SOFTWARE). */
export const EXIT_SOFTWARE = 70;

/** What {@link runServer} starts: a name for the logs and the composition root that builds it. */
export interface ServerSpec {
  /** E.g. `POS API`, `payments service`. */
  name: string;
  /** The composition root (src/app.ts `buildApp`, src/service-app.ts `buildService`). */
  build: (config: AppConfig, options: Pick<BuildOptions, 'database' | 'skipMigrations' | 'tracing'>) => Promise<FastifyInstance>;
  /** The environment to read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts a server: reads the environment, waits for the database, builds the app with
 * `spec.build`, listens, and shuts down gracefully. Exits 78 on an invalid environment, 69 when
 * the database stays unreachable, 70 after an uncaught exception outside the database driver.
 */
export async function runServer(spec: ServerSpec): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(spec.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(EXIT_CONFIG);
    }
    throw error;
  }
  const log = pino({ level: config.logLevel });
  const started = Date.now();
  // Off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set (src/telemetry.ts).
  const telemetry = startTracing();
  const database = await openDatabase(config.database);
  await waitForDatabase(database, config, log);
  const app = await spec.build(config, { database, skipMigrations: true, ...(telemetry ? { tracing: telemetry.tracing } : {}) });
  installCrashPolicy(app.log, () => shutdown('uncaughtException', EXIT_SOFTWARE));
  await app.listen({ host: config.host, port: config.port });
  const metrics = await app.metrics.listen(config.metrics);
  app.log.info(
    {
      database: config.database.kind === 'pglite' ? `embedded PGlite at ${config.database.dataDir}` : `PostgreSQL at ${describeUrl(config.database.url)}`,
      metrics: metrics ? `http://${config.metrics.host}:${metrics.port}/metrics` : 'off (METRICS_PORT=0)',
      tracing: telemetry ? 'on' : 'off',
      readyInMs: Date.now() - started,
    },
    `${spec.name} ready; docs at http://${config.host}:${config.port}/docs`,
  );

  let closing = false;
  function shutdown(reason: string, exitCode: number) {
    if (closing) return;
    closing = true;
    app.log.info({ reason }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => process.exit(exitCode || 1), 10_000).unref();
    app
      .close()
      .then(() => database.close())
      .then(() => telemetry?.shutdown().catch((error: unknown) => app.log.warn({ err: error }, 'exporting the last spans failed')))
      .then(
        () => {
          clearTimeout(force);
          process.exit(exitCode);
        },
        (error: unknown) => {
          app.log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => shutdown(signal, 0));
}

/**
 * Applies the migrations, retrying while the database is unreachable (connection refused, reset
 * or timed out, "the database system is starting up", too many clients...) with exponential
 * backoff (0.5 s doubling, at most 5 s), one log line per attempt, for at most
 * `config.databaseStartupTimeoutSeconds`. Then exits with {@link EXIT_DATABASE_UNAVAILABLE} and a
 * one-line message. Any other error (bad SQL, wrong password) is thrown at once.
 */
async function waitForDatabase(database: DatabaseHandle, config: AppConfig, log: Logger): Promise<void> {
  const limitMs = config.databaseStartupTimeoutSeconds * 1000;
  const where = config.database.kind === 'postgres' ? describeUrl(config.database.url) : 'PGlite';
  const first = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      await database.migrate();
      if (attempt > 1) log.info({ attempt, waitedMs: Date.now() - first }, `database ${where} reachable after ${attempt} attempts`);
      return;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      const elapsed = Date.now() - first;
      const delay = Math.min(500 * 2 ** (attempt - 1), 5000);
      const reason = errorReason(error);
      if (elapsed + delay > limitMs) {
        log.fatal(
          { attempt, waitedMs: elapsed, reason, exitCode: EXIT_DATABASE_UNAVAILABLE },
          `database ${where} unreachable for ${Math.round(elapsed / 1000)} s (${reason}); giving up after ${attempt} attempts (DATABASE_STARTUP_TIMEOUT_SECONDS=${config.databaseStartupTimeoutSeconds})`,
        );
        await database.close().catch(() => {});
        log.flush();
        process.exit(EXIT_DATABASE_UNAVAILABLE);
      }
      log.warn({ attempt, reason, retryInMs: delay }, `database ${where} unreachable (${reason}); attempt ${attempt}, retrying in ${(delay / 1000).toFixed(1)} s`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/**
 * Process-level policy for errors nobody caught (documented in README, "Database faults"):
 * - an unhandled promise rejection is logged (error) and the process keeps serving: it is a
 *   promise nobody awaited, the request that made it has been answered or will time out;
 * - an uncaught exception thrown from inside a database driver (postgres.js, pg, pg-boss: e.g.
 *   postgres.js's write to a closed socket, porsager/postgres#1208) is logged (fatal) and the
 *   process keeps serving: the driver already dropped that connection and the pool reconnects;
 * - any other uncaught exception means our own state may be inconsistent: it is logged (fatal)
 *   and the server drains in-flight requests and exits 70, for the supervisor to restart it.
 */
export function installCrashPolicy(log: Logger | { error: Logger['error']; fatal: Logger['fatal'] }, restart: () => void): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason }, 'unhandled promise rejection (kept serving)');
  });
  process.on('uncaughtException', (error) => {
    if (fromDatabaseDriver(error)) {
      log.fatal({ err: error }, 'uncaught exception in the database driver (kept serving; the connection is dropped and reconnected)');
      return;
    }
    log.fatal({ err: error }, 'uncaught exception: draining and exiting for a restart');
    restart();
  });
}

/**
 * True when the exception was thrown by the driver's own code: its innermost stack frame is in
 * the driver's package. An exception thrown by one of our callbacks that the driver calls (its
 * innermost frame is ours) is our fault and takes the restart path.
 */
function fromDatabaseDriver(error: unknown): boolean {
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  const innermost = stack.split('\n').find((line) => line.trimStart().startsWith('at ')) ?? '';
  return /node_modules[\\/](postgres|pg|pg-pool|pg-protocol|pg-boss)[\\/]/.test(innermost);
}

function errorReason(error: unknown): string {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'DATABASE_UNAVAILABLE') return `${code}: ${(e as Error).message}`;
    if (e instanceof AggregateError && e.errors[0]) return errorReason(e.errors[0]);
  }
  return error instanceof Error ? error.message : String(error);
}

/** host:port/database of a postgres URL, without credentials (for logs). */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'DATABASE_URL';
  }
}

/** Runs `spec` as this process's server; any startup failure is printed and exits 1. */
export function startServer(spec: ServerSpec): void {
  runServer(spec).catch((error: unknown) => {
    console.error(`startup failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    if (error instanceof Error && error.stack) console.error(error.stack);
    process.exit(1);
  });
}

// `npm start`: the whole API. Imported (src/service-server.ts), it only exports.
if (import.meta.main) startServer({ name: 'POS API', build: buildApp });
