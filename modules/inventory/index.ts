import { defineModule } from '../../shared/module.ts';
import type { InventoryGateway } from './gateway.ts';
import { inventoryRoutes } from './routes.ts';
import { createInventoryService, type InventoryDependencies } from './service.ts';

/**
 * The inventory module: stock per menu item. Uses restaurant (menu items exist; forgets an item's
 * stock when it is deleted); returns its {@link InventoryGateway} and serves its routes under
 * `/api/v1/inventory`.
 */
export default defineModule<InventoryDependencies, InventoryGateway>({
  name: 'inventory',
  uses: ['restaurant'],
  events: { publishes: ['StockLevelChanged', 'StockTrackingStopped'], external: ['StockLevelChanged'] },
  async setup(scope, { deps, events }) {
    const service = createInventoryService(scope, deps, events);
    deps.restaurant.registerDeletionHook(service.forgetMenuItem);
    await scope.register(inventoryRoutes, { prefix: '/inventory', service });
    return { takeStock: service.takeStock, restoreStock: service.restoreStock };
  },
});
