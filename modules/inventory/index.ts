import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { InventoryGateway } from './gateway.ts';
import { inventoryRoutes } from './routes.ts';
import { createInventoryService } from './service.ts';

/**
 * The inventory module: stock per menu item. Decorates `app.inventory` with its gateway and
 * serves its routes under `/api/v1/inventory`.
 */
export default fp(
  async (app: FastifyInstance) => {
    const service = createInventoryService(app);
    const gateway: InventoryGateway = { takeStock: service.takeStock, restoreStock: service.restoreStock };
    app.decorate('inventory', gateway);
    app.restaurant.registerDeletionHook(service.forgetMenuItem);
    await app.register(inventoryRoutes, { prefix: '/api/v1/inventory', service });
  },
  { name: 'inventory', dependencies: ['database', 'auth-guard', 'event-bus', 'restaurant'] },
);
