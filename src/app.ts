import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import Fastify, { type FastifyInstance } from 'fastify';
import type { DestinationStream } from 'pino';
import { validatorCompiler } from 'fastify-type-provider-zod';
import authModule, { createSessionChecker } from '../modules/auth/index.ts';
import inventoryModule from '../modules/inventory/index.ts';
import ordersModule from '../modules/orders/index.ts';
import paymentsModule, { type PaymentsModuleOptions } from '../modules/payments/index.ts';
import reportingModule from '../modules/reporting/index.ts';
import restaurantModule from '../modules/restaurant/index.ts';
import { authGuardPlugin } from '../shared/auth-guard.ts';
import type { AppConfig } from '../shared/config.ts';
import { openDatabase, type DatabaseHandle } from '../shared/database.ts';
import { eventBusPlugin } from '../shared/event-bus.ts';
import { idempotencyPlugin } from '../shared/idempotency.ts';
import { readCachePlugin } from '../shared/read-cache.ts';
import { databasePlugin } from '../shared/kernel-plugins.ts';
import { problemDetailsPlugin } from '../shared/problem-details.ts';
import { zodResponseSerializerCompiler } from '../shared/response-serializer.ts';
import { apiDocsPlugin } from './api-docs.ts';
import { httpServerOptions, limitConnections } from './http-server-options.ts';
import { serviceRoutes } from './service-routes.ts';

/** Seams for tests and embedding; production passes none. */
export interface BuildOptions {
  /** Use this open database instead of opening `config.database` (the app then does not close it). */
  database?: DatabaseHandle;
  /** Skip running migrations at start (when the caller already did). */
  skipMigrations?: boolean;
  payments?: PaymentsModuleOptions;
  /** Where logs go (default: stdout); tests capture them to check redaction. */
  logStream?: DestinationStream;
  /** Runs after every module is registered and before the app is ready (e.g. extra event subscribers in tests). */
  beforeReady?: (app: FastifyInstance) => void | Promise<void>;
}

/**
 * The composition root: builds the whole API from the shared kernel and one plugin per module.
 * Opens the database and applies migrations unless given one. Call `listen()` on the result, or
 * `close()` to release it.
 */
export async function buildApp(config: AppConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
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
    bodyLimit: config.bodyLimitBytes,
    // Timeouts against slow clients, problem+json for the HTTP layer's own errors, and a
    // client x-request-id echoed only when it looks like an id (src/http-server-options.ts).
    ...httpServerOptions(config.http),
  });
  limitConnections(app, config.http.maxConnections);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(zodResponseSerializerCompiler);

  if (config.jwt.secretGenerated) {
    app.log.warn('JWT_SECRET is not set: using a random secret; tokens will not survive a restart. Set JWT_SECRET (32+ chars).');
  }
  const database = options.database ?? (await openDatabase(config.database));
  if (!options.database) app.addHook('onClose', () => database.close());
  if (!options.skipMigrations) await database.migrate();

  // HTTP hardening: security headers, CORS only when configured, request id echoed to the client.
  // No upgrade-insecure-requests: it would break /docs for anyone serving plain HTTP on a LAN
  // address (TLS is usually terminated in front of the API).
  await app.register(fastifyHelmet, { global: true, contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  if (config.corsOrigins.length > 0) await app.register(fastifyCors, { origin: config.corsOrigins, credentials: false });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });

  // Shared kernel
  await app.register(problemDetailsPlugin);
  await app.register(databasePlugin, { database });
  await app.register(readCachePlugin, config.readCache);
  // The guard asks the auth module whether a token's session is still live (logout, deactivation).
  const sessionChecker = createSessionChecker(app.runInTenant);
  await app.register(authGuardPlugin, { ...config.jwt, sessionCheck: sessionChecker.check });
  await app.register(idempotencyPlugin);
  await app.register(eventBusPlugin, { events: config.events });
  await app.register(apiDocsPlugin);
  await app.register(serviceRoutes, { eventDelivery: config.events.delivery });

  // Modules (bounded contexts), each a plugin exposing its gateway
  await app.register(authModule, {
    loginRateLimit: config.loginRateLimit,
    signupRateLimitPerIpPerHour: config.signupRateLimitPerIpPerHour,
    passwordHashing: config.passwordHashing,
    refreshTokenTtlSeconds: config.jwt.refreshTokenTtlSeconds,
    sessionChecker,
  });
  await app.register(restaurantModule);
  await app.register(inventoryModule);
  await app.register(paymentsModule, options.payments ?? {});
  await app.register(ordersModule);
  await app.register(reportingModule);

  await options.beforeReady?.(app);
  await app.ready();
  return app;
}
