import fastifyCors from '@fastify/cors';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { validatorCompiler } from 'fastify-type-provider-zod';
import { authGuardPlugin, type SessionCheck } from '../shared/auth-guard.ts';
import type { AppConfig } from '../shared/config.ts';
import { openDatabase, queryRows, sql, type DatabaseHandle } from '../shared/database.ts';
import { eventBusPlugin } from '../shared/event-bus.ts';
import { idempotencyPlugin } from '../shared/idempotency.ts';
import { databasePlugin } from '../shared/kernel-plugins.ts';
import { metricsPlugin } from '../shared/metrics.ts';
import { createModuleHost, type ModuleHost } from '../shared/module.ts';
import { problemDetailsPlugin } from '../shared/problem-details.ts';
import { readCachePlugin } from '../shared/read-cache.ts';
import { retentionPlugin } from '../shared/retention.ts';
import { zodResponseSerializerCompiler } from '../shared/response-serializer.ts';
import type { Tracing } from '../shared/telemetry.ts';
import { apiDocsPlugin, type ApiDocument } from './api-docs.ts';
import { httpServerOptions, limitConnections } from './http-server-options.ts';
import { lazyRequestLogger } from './request-logger.ts';
import { staticSecurityHeaders } from './security-headers.ts';
import { serviceRoutes } from './service-routes.ts';

/** Where every module's routes live: `/api/v1/<module routes>`. */
const API_PREFIX = '/api/v1';

/** Options of {@link buildKernel}. */
export interface KernelOptions {
  /** Use this open database instead of opening `config.database` (the app then does not close it). */
  database?: DatabaseHandle;
  /** Skip running migrations at start (when the caller already did). */
  skipMigrations?: boolean;
  /** Where logs go (default: stdout); tests capture them to check redaction. */
  logStream?: DestinationStream;
  /**
   * Makes the check asked on every guarded request whether the token's session is still live,
   * given the app with its database loaded. The whole app passes the auth module's checker; a
   * module booted alone in a test may pass `() => async () => true`.
   */
  sessionCheck: (app: FastifyInstance) => SessionCheck;
  /**
   * Tracing, when on (src/telemetry.ts `startTracing`): a span per HTTP request, gateway call,
   * unit of work and handled event. Absent = tracing off, and none of that code runs.
   */
  tracing?: Tracing;
  /** What `/docs/json` says about itself; default: the public POS API (an extracted service passes its own). */
  apiDocument?: ApiDocument;
}

/**
 * The Fastify instance with the shared kernel loaded and no module yet: request tracing (when
 * on), HTTP hardening, problem details, database and unit of work, read cache, auth guard,
 * idempotency, event bus, data retention, metrics (served by `app.metrics.listen`), API docs and
 * the service routes (`/health`, `/ready`). Returns the app and the {@link ModuleHost} that
 * registers modules under {@link API_PREFIX}. Used by the composition root (src/app.ts) and by
 * tests that boot one module alone (test/support/module-test.ts).
 */
export async function buildKernel(config: AppConfig, options: KernelOptions): Promise<{ app: FastifyInstance; modules: ModuleHost }> {
  const app = Fastify({
    logger: {
      level: config.logLevel,
      // Passwords and tokens never reach the logs, wherever they appear.
      redact: {
        paths: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]', '*.password', '*.accessToken', '*.refreshToken', '*.token'],
        censor: '[redacted]',
      },
      ...(options.logStream ? { stream: options.logStream } : {}),
    },
    // request.log's pino child is made only when a line passes the level (src/request-logger.ts).
    childLoggerFactory: lazyRequestLogger,
    bodyLimit: config.bodyLimitBytes,
    // Timeouts against slow clients, problem+json for the HTTP layer's own errors, and a
    // client x-request-id echoed only when it looks like an id (src/http-server-options.ts).
    ...httpServerOptions(config.http),
  });
  limitConnections(app, config.http.maxConnections);
  // First, so that every hook and route registered after it runs inside the request's span.
  const tracer = options.tracing?.tracer;
  if (options.tracing) await app.register(options.tracing.fastifyPlugin);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(zodResponseSerializerCompiler);

  if (config.jwt.secretGenerated) {
    app.log.warn('JWT_SECRET is not set: using a random secret; tokens will not survive a restart. Set JWT_SECRET (32+ chars).');
  }
  const database = options.database ?? (await openDatabase(config.database));
  if (!options.database) app.addHook('onClose', () => database.close());
  if (!options.skipMigrations) await database.migrate();
  if (database.driver.kind === 'postgres') await warnIfAutovacuumOff(app, database);

  // HTTP hardening: security headers, CORS only when configured, request id echoed to the client.
  // No upgrade-insecure-requests: it would break /docs for anyone serving plain HTTP on a LAN
  // address (TLS is usually terminated in front of the API).
  // Security headers (helmet's), computed once and handed to every reply with its other headers
  // (src/security-headers.ts: helmet run per request was a quarter of a cached menu read's CPU).
  const securityHeaders = staticSecurityHeaders({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(securityHeaders);
    done();
  });
  if (config.corsOrigins.length > 0) await app.register(fastifyCors, { origin: config.corsOrigins, credentials: false });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    done(null, payload);
  });

  await app.register(problemDetailsPlugin);
  await app.register(databasePlugin, { database, ...(tracer ? { tracer } : {}) });
  await app.register(readCachePlugin, config.readCache);
  await app.register(authGuardPlugin, { ...config.jwt, sessionCheck: options.sessionCheck(app) });
  await app.register(idempotencyPlugin);
  await app.register(eventBusPlugin, { events: config.events, ...(tracer ? { tracer } : {}) });
  await app.register(retentionPlugin, { ...config.retention, scheduled: config.events.delivery });
  await app.register(metricsPlugin);
  await app.register(apiDocsPlugin, options.apiDocument ? { document: options.apiDocument } : {});
  await app.register(serviceRoutes, { eventDelivery: config.events.delivery });

  return { app, modules: createModuleHost(app, { prefix: API_PREFIX, ...(tracer ? { tracer } : {}) }) };
}

/**
 * Logs a warning when the PostgreSQL server runs with `autovacuum = off`: every order inserts and
 * updates rows (the event jobs are inserted, claimed and completed in a table with 17 indexes), and
 * without vacuum their dead versions pile up. Measured with `npm run bench`: PostgreSQL CPU per
 * order 3.7 ms with autovacuum off after a few minutes, 2.6 ms with it on (README, Benchmarks).
 * The app keeps running: the setting is the operator's.
 */
async function warnIfAutovacuumOff(app: FastifyInstance, database: DatabaseHandle): Promise<void> {
  const [row] = await queryRows<{ autovacuum: string }>(database.db, sql`select current_setting('autovacuum') as autovacuum`);
  if (row?.autovacuum !== 'on') {
    app.log.warn(
      { autovacuum: row?.autovacuum },
      'PostgreSQL runs with autovacuum = off: dead rows of orders and event jobs pile up and every order costs more database CPU; turn it on (autovacuum = on, the default)',
    );
  }
}
