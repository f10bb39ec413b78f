import { defineModule } from '../../shared/module.ts';
import type { MenuItemDeletionHook, MenuItemReferenceCheck, RestaurantGateway } from './gateway.ts';
import { restaurantRepository } from './repository.ts';
import { restaurantRoutes, type CachedMenuPage } from './routes.ts';
import { createRestaurantService, toMenuItemView, type RestaurantDependencies } from './service.ts';

/**
 * The restaurant module: the menu. Uses auth (the tenant's currency); returns its
 * {@link RestaurantGateway} and serves its routes under `/api/v1/restaurant`.
 */
export default defineModule<RestaurantDependencies, RestaurantGateway>({
  name: 'restaurant',
  uses: ['auth'],
  async setup(scope, { deps }) {
    const referenceChecks: MenuItemReferenceCheck[] = [];
    const deletionHooks: MenuItemDeletionHook[] = [];
    const gateway: RestaurantGateway = {
      async findMenuItems(uow, ids) {
        const rows = await restaurantRepository.byIds(uow.tx, uow.tenantId, ids);
        return new Map(rows.map((r) => [r.id, { ...toMenuItemView(r), price: r.price }]));
      },
      registerReferenceCheck: (check) => void referenceChecks.push(check),
      registerDeletionHook: (hook) => void deletionHooks.push(hook),
    };
    const menuPages = scope.createReadCache<CachedMenuPage>('restaurant.menu-pages');
    const service = createRestaurantService(scope, deps, referenceChecks, deletionHooks, menuPages);
    await scope.register(restaurantRoutes, { prefix: '/restaurant', service, menuPages });
    return gateway;
  },
});
