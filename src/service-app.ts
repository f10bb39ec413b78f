import type { FastifyInstance } from 'fastify';
import paymentsModule, { type PaymentsModuleOptions } from '../modules/payments/index.ts';
import { ConfigError, type AppConfig } from '../shared/config.ts';
import { SERVICE_TAG, type ApiDocument } from './api-docs.ts';
import { buildKernel, type KernelOptions } from './kernel.ts';

/** The modules that can run as their own service (`npm run start:service -- <module>`). */
export const EXTRACTABLE_MODULES = ['payments'] as const;
/** One of {@link EXTRACTABLE_MODULES}. */
export type ExtractableModule = (typeof EXTRACTABLE_MODULES)[number];

/** Seams for tests; production passes none. */
export interface ServiceBuildOptions extends Omit<KernelOptions, 'sessionCheck' | 'apiDocument'> {
  payments?: Pick<PaymentsModuleOptions, 'provider'>;
}

const PAYMENTS_SERVICE_DOCUMENT: ApiDocument = {
  title: 'POS payments service (internal API)',
  description: `The payments module of the POS, run as its own service (README, "Extracting a module").
Only the POS monolith calls it, with the payments gateway's HTTP client.

**Authentication.** \`Authorization: Bearer <SERVICE_TOKEN>\`, the secret shared with the
monolith. **Tenant.** Every call names its restaurant in \`x-tenant-id\`; it runs in that tenant's
transaction, confined by row-level security.

**The saga of an order.** \`POST /authorisations\` (before the order's transaction writes
anything; idempotent under the caller's \`paymentId\`), then \`POST /{id}/confirm\` once the order
committed, or \`POST /{id}/void\` once it rolled back; \`POST /{id}/refund\` after a cancellation.
Each step is idempotent. Money is integer minor units.`,
  tags: [SERVICE_TAG, { name: 'payments (internal)', description: 'The payments gateway as an HTTP API: saga steps and reads.' }],
  securitySchemes: { serviceToken: { type: 'http', scheme: 'bearer', description: 'SERVICE_TOKEN, shared with the monolith (at least 32 characters)' } },
  security: [{ serviceToken: [] }],
};

/**
 * The composition root of an extracted module: the shared kernel (src/kernel.ts) and that one
 * module, serving its internal API (for payments: modules/payments/internal-routes.ts) instead of
 * its public routes, on its own database (its own `DATABASE_URL`, migrated at start). No other
 * module is loaded, so none can be reached; access tokens of staff are refused (no auth module).
 * @throws ConfigError when SERVICE_TOKEN is not set.
 */
export async function buildService(name: ExtractableModule, config: AppConfig, options: ServiceBuildOptions = {}): Promise<FastifyInstance> {
  const serviceToken = config.services?.serviceToken;
  if (!serviceToken) throw new ConfigError(['SERVICE_TOKEN: required to run a module as a service (at least 32 characters)']);
  const { app, modules } = await buildKernel(config, { ...options, sessionCheck: () => async () => false, apiDocument: PAYMENTS_SERVICE_DOCUMENT });
  switch (name) {
    case 'payments':
      await modules.register(paymentsModule, { options: { ...options.payments, serve: { serviceToken } } });
      break;
  }
  await app.ready();
  return app;
}
