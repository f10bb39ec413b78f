import { defineModule } from '../../shared/module.ts';
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
 * The payments module. Uses no other module; returns its {@link PaymentsGateway}, serves its
 * routes under `/api/v1/payments`, and captures and refunds card payments at the provider from its
 * own events (durable jobs, see `provider-jobs.ts`).
 */
export default defineModule<Record<never, never>, PaymentsGateway, PaymentsModuleOptions | undefined>({
  name: 'payments',
  uses: [],
  events: {
    publishes: ['CardPaymentCollected', 'CardPaymentRefunded'],
    consumes: { payments: ['CardPaymentCollected', 'CardPaymentRefunded'] },
  },
  async setup(scope, { options, events }) {
    const provider = options?.provider ?? createTestPaymentProvider();
    const service = createPaymentsService(scope, provider, events);
    const jobs = providerJobs(provider);
    events.subscribe<CardPaymentCollected>('CardPaymentCollected', jobs.capture);
    events.subscribe<CardPaymentRefunded>('CardPaymentRefunded', jobs.refund);
    await scope.register(paymentsRoutes, { prefix: '/payments', service });
    return { collect: service.collect, refund: service.refund, find: service.find, findMany: service.findMany };
  },
});
