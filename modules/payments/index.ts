import { defineModule } from '../../shared/module.ts';
import type {
  CardPaymentCollected,
  CardPaymentRefunded,
  PaymentsGateway,
  RemotePaymentConfirmed,
  RemotePaymentRefundRequested,
  RemotePaymentReleased,
} from './gateway.ts';
import { paymentsInternalRoutes } from './internal-routes.ts';
import { createTestPaymentProvider, type PaymentProvider } from './payment-provider.ts';
import { providerJobs } from './provider-jobs.ts';
import { createRemotePayments, type RemotePaymentsOptions } from './remote-gateway.ts';
import { paymentsRoutes } from './routes.ts';
import { createPaymentsService } from './service.ts';

/**
 * Options of the payments module. By default it runs in-process with the built-in test provider.
 * - `provider`: the card provider adapter (in-process and `serve`).
 * - `remote`: the module runs as its own service there; this process gets the HTTP client of it
 *   (remote-gateway.ts) as the payments gateway and proxies `GET /payments` to it.
 * - `serve`: this process IS the payments service (`npm run start:service -- payments`): it
 *   serves the internal API (internal-routes.ts) to callers holding `serviceToken`, instead of the
 *   public routes.
 */
export interface PaymentsModuleOptions {
  provider?: PaymentProvider;
  remote?: RemotePaymentsOptions;
  serve?: { serviceToken: string };
}

/**
 * The payments module. Uses no other module; returns its {@link PaymentsGateway}, serves its
 * routes under `/api/v1/payments`, and captures and refunds card payments at the provider from its
 * own events (durable jobs, see `provider-jobs.ts`). The `Remote*` events are the saga steps of
 * the remote wiring (remote-gateway.ts).
 */
export default defineModule<Record<never, never>, PaymentsGateway, PaymentsModuleOptions | undefined>({
  name: 'payments',
  uses: [],
  events: {
    publishes: ['CardPaymentCollected', 'CardPaymentRefunded', 'RemotePaymentConfirmed', 'RemotePaymentReleased', 'RemotePaymentRefundRequested'],
    consumes: { payments: ['CardPaymentCollected', 'CardPaymentRefunded', 'RemotePaymentConfirmed', 'RemotePaymentReleased', 'RemotePaymentRefundRequested'] },
  },
  async setup(scope, { options, events }) {
    if (options?.remote) {
      if (options.serve || options.provider) throw new Error('payments: `remote` excludes `serve` and `provider` (the payments service holds the provider).');
      const remote = createRemotePayments(options.remote, scope.runInTenant, events, scope.log);
      events.subscribe<RemotePaymentConfirmed>('RemotePaymentConfirmed', remote.handlers.confirmed);
      events.subscribe<RemotePaymentReleased>('RemotePaymentReleased', remote.handlers.released);
      events.subscribe<RemotePaymentRefundRequested>('RemotePaymentRefundRequested', remote.handlers.refundRequested);
      await scope.register(paymentsRoutes, { prefix: '/payments', queries: remote.queries });
      return remote.gateway;
    }
    const provider = options?.provider ?? createTestPaymentProvider();
    const service = createPaymentsService(scope, provider, events);
    const jobs = providerJobs(provider);
    events.subscribe<CardPaymentCollected>('CardPaymentCollected', jobs.capture);
    events.subscribe<CardPaymentRefunded>('CardPaymentRefunded', jobs.refund);
    if (options?.serve) await scope.register(paymentsInternalRoutes, { prefix: '/payments', service, serviceToken: options.serve.serviceToken });
    else await scope.register(paymentsRoutes, { prefix: '/payments', queries: service });
    return { collect: service.collect, refund: service.refund, find: service.find, findMany: service.findMany };
  },
});
