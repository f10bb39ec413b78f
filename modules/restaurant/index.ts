import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { MenuItemDeletionHook, MenuItemReferenceCheck, RestaurantGateway } from './gateway.ts';
import { restaurantRepository } from './repository.ts';
import { restaurantRoutes, type CachedMenuPage } from './routes.ts';
import { createRestaurantService, toMenuItemView } from './service.ts';

/**
 * The restaurant module: the menu. Decorates `app.restaurant` with its gateway and serves its
 * routes under `/api/v1/restaurant`.
 */
export default fp(
  async (app: FastifyInstance) => {
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
    app.decorate('restaurant', gateway);
    const menuPages = app.createReadCache<CachedMenuPage>('restaurant.menu-pages');
    const service = createRestaurantService(app, referenceChecks, deletionHooks, menuPages);
    await app.register(restaurantRoutes, { prefix: '/api/v1/restaurant', service, menuPages });
  },
  { name: 'restaurant', dependencies: ['database', 'read-cache', 'auth-guard', 'auth'] },
);
