import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { PaymentsGateway } from './gateway.ts';
import { createTestPaymentProvider, type PaymentProvider } from './payment-provider.ts';
import { paymentsRoutes } from './routes.ts';
import { createPaymentsService } from './service.ts';

/** Options of the payments module; `provider` defaults to the built-in test provider. */
export interface PaymentsModuleOptions {
  provider?: PaymentProvider;
}

/**
 * The payments module. Decorates `app.payments` with its gateway and serves its routes under
 * `/api/v1/payments`.
 */
export default fp<PaymentsModuleOptions>(
  async (app: FastifyInstance, opts) => {
    const service = createPaymentsService(app, opts.provider ?? createTestPaymentProvider());
    const gateway: PaymentsGateway = { collect: service.collect, refund: service.refund, find: service.find, findMany: service.findMany };
    app.decorate('payments', gateway);
    await app.register(paymentsRoutes, { prefix: '/api/v1/payments', service });
  },
  { name: 'payments', dependencies: ['database', 'auth-guard'] },
);
