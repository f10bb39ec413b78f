import { defineModule } from '../../shared/module.ts';
import { ordersRoutes } from './routes.ts';
import { createOrdersService, type OrdersDependencies } from './service.ts';

/**
 * The orders module: the point of sale. Uses auth (the tenant's currency and tax), restaurant
 * (prices; it also tells restaurant which menu items order lines reference), inventory (stock)
 * and payments; publishes `OrderPaid` and `OrderCancelled`; serves its routes under
 * `/api/v1/orders`. Offers no gateway: other modules react to its events.
 */
export default defineModule<OrdersDependencies>({
  name: 'orders',
  uses: ['auth', 'restaurant', 'inventory', 'payments'],
  events: { publishes: ['OrderPaid', 'OrderCancelled'], external: ['OrderPaid', 'OrderCancelled'] },
  async setup(scope, { deps, events }) {
    const service = createOrdersService(scope, deps, events);
    deps.restaurant.registerReferenceCheck(service.referencesMenuItem);
    await scope.register(ordersRoutes, { prefix: '/orders', service });
  },
});
