import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { CardPaymentCollected, CardPaymentRefunded, PaymentsGateway } from './gateway.ts';
import { createTestPaymentProvider, type PaymentProvider } from './payment-provider.ts';
import { providerJobs } from './provider-jobs.ts';
import { paymentsRoutes } from './routes.ts';
import { createPaymentsService } from './service.ts';

/** Options of the payments module; `provider` defaults to the built-in test provider. */
export interface PaymentsModuleOptions {
  provider?: PaymentProvider;
}

/**
 * The payments module. Decorates `app.payments` with its gateway, serves its routes under
 * `/api/v1/payments`, and captures and refunds card payments at the provider from its own events
 * (durable jobs, see `provider-jobs.ts`).
 */
export default fp<PaymentsModuleOptions>(
  async (app: FastifyInstance, opts) => {
    const provider = opts.provider ?? createTestPaymentProvider();
    const service = createPaymentsService(app, provider);
    const jobs = providerJobs(provider);
    app.events.subscribe<CardPaymentCollected>('CardPaymentCollected', 'payments', jobs.capture);
    app.events.subscribe<CardPaymentRefunded>('CardPaymentRefunded', 'payments', jobs.refund);
    const gateway: PaymentsGateway = { collect: service.collect, refund: service.refund, find: service.find, findMany: service.findMany };
    app.decorate('payments', gateway);
    await app.register(paymentsRoutes, { prefix: '/api/v1/payments', service });
  },
  { name: 'payments', dependencies: ['database', 'auth-guard', 'event-bus'] },
);
