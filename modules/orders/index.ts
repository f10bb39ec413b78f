import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { OrdersGateway } from './gateway.ts';
import { ordersRoutes } from './routes.ts';
import { createOrdersService } from './service.ts';

/**
 * The orders module: the point of sale. Decorates `app.orders` with its gateway, tells the
 * restaurant module which menu items order lines reference, and serves its routes under
 * `/api/v1/orders`.
 */
export default fp(
  async (app: FastifyInstance) => {
    const service = createOrdersService(app);
    const gateway: OrdersGateway = {};
    app.decorate('orders', gateway);
    app.restaurant.registerReferenceCheck(service.referencesMenuItem);
    await app.register(ordersRoutes, { prefix: '/api/v1/orders', service });
  },
  { name: 'orders', dependencies: ['database', 'auth-guard', 'event-bus', 'auth', 'restaurant', 'inventory', 'payments'] },
);
