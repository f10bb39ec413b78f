import type { FastifyInstance } from 'fastify';
import authModule, { createSessionChecker, type SessionChecker } from '../modules/auth/index.ts';
import inventoryModule from '../modules/inventory/index.ts';
import ordersModule from '../modules/orders/index.ts';
import paymentsModule, { type PaymentsModuleOptions } from '../modules/payments/index.ts';
import reportingModule from '../modules/reporting/index.ts';
import restaurantModule from '../modules/restaurant/index.ts';
import { relayExternalEvents } from '../shared/broker.ts';
import type { AppConfig } from '../shared/config.ts';
import { buildKernel, type KernelOptions } from './kernel.ts';

/** Seams for tests and embedding; production passes none. */
export interface BuildOptions extends Omit<KernelOptions, 'sessionCheck'> {
  payments?: PaymentsModuleOptions;
  /** Runs after every module is registered and before the app is ready (e.g. extra event subscribers in tests). */
  beforeReady?: (app: FastifyInstance) => void | Promise<void>;
}

/**
 * The composition root: builds the whole API from the shared kernel (src/kernel.ts) and the
 * modules, registered in dependency order, each given exactly the gateways it declares in `uses`.
 * Opens the database and applies migrations unless given one. Call `listen()` on the result, or
 * `close()` to release it.
 * @throws Error when a module's declared dependency is not wired here (see shared/module.ts).
 */
export async function buildApp(config: AppConfig, options: BuildOptions = {}): Promise<FastifyInstance> {
  // The auth guard asks the auth module whether a token's session is still live (logout, deactivation).
  let sessionChecker: SessionChecker | undefined;
  const { app, modules } = await buildKernel(config, {
    ...options,
    sessionCheck: (kernel) => (sessionChecker = createSessionChecker(kernel.runInTenant)).check,
  });

  // Modules (bounded contexts): each gets the gateways it uses and returns its own.
  const auth = await modules.register(authModule, {
    options: {
      loginRateLimit: config.loginRateLimit,
      signupRateLimitPerIpPerHour: config.signupRateLimitPerIpPerHour,
      passwordHashing: config.passwordHashing,
      refreshTokenTtlSeconds: config.jwt.refreshTokenTtlSeconds,
      sessionChecker: sessionChecker!,
    },
  });
  app.retention.useTenantDirectory(auth.tenantIds);
  const restaurant = await modules.register(restaurantModule, { deps: { auth } });
  const inventory = await modules.register(inventoryModule, { deps: { restaurant } });
  // Strangler fig: with PAYMENTS_URL the payments module runs as its own service and this process
  // wires its HTTP client; nothing else changes (README "Extracting a module").
  const paymentsRemote = config.services?.payments;
  const payments = await modules.register(paymentsModule, {
    options: paymentsRemote
      ? { remote: { url: paymentsRemote.url, serviceToken: config.services!.serviceToken, timeoutMs: config.services!.timeoutMs } }
      : options.payments,
  });
  await modules.register(ordersModule, { deps: { auth, restaurant, inventory, payments } });
  await modules.register(reportingModule, { deps: { auth } });

  // External events (each module's events.external) also go to NATS JetStream when NATS_URL is set.
  relayExternalEvents(app, modules.modules(), config.broker);

  await options.beforeReady?.(app);
  await app.ready();
  return app;
}
