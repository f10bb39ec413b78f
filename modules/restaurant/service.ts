import type { FastifyInstance } from 'fastify';
import type { AuthGateway } from '../auth/gateway.ts';
import type { Principal } from '../../shared/auth-guard.ts';
import { isUniqueViolation } from '../../shared/database.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { restaurantProblems } from './problems.ts';
import type { TenantReadCache } from '../../shared/read-cache.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import type { MenuItemDeletionHook, MenuItemReferenceCheck } from './gateway.ts';
import { restaurantRepository as repo, type MenuItemRow } from './repository.ts';
import type { MenuItemView } from './views.ts';


export const toMenuItemView = (r: MenuItemRow): MenuItemView => ({
  id: r.id,
  name: r.name,
  sku: r.sku,
  price: r.price,
  currency: r.currency,
  category: r.category,
  available: r.available && r.archivedAt === null,
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

const notFound = () => problems.notFound('No such menu item.');
const duplicateSku = (sku: string) =>
  restaurantProblems.duplicateSku.create(`Another menu item of this restaurant already has SKU "${sku}".`, { sku });

/** The gateways the restaurant module uses (its declared `uses`). */
export interface RestaurantDependencies {
  auth: AuthGateway;
}

/** Use cases of the restaurant module (the menu). */
export function createRestaurantService(
  app: FastifyInstance,
  deps: RestaurantDependencies,
  referenceChecks: MenuItemReferenceCheck[],
  deletionHooks: MenuItemDeletionHook[] = [],
  /** The read cache of menu pages: every write below invalidates it in its unit of work. */
  menuPages?: Pick<TenantReadCache<unknown>, 'invalidate'>,
) {
  const menuChanged = (uow: UnitOfWork) => menuPages?.invalidate(uow);
  const withSkuGuard = async <T>(sku: string | null | undefined, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (isUniqueViolation(error) && sku) throw duplicateSku(sku);
      throw error;
    }
  };

  return {
    /** @throws ProblemError 409 duplicate-sku. */
    create(principal: Principal, input: { name: string; sku?: string | undefined; price: number; category?: string | undefined; available: boolean }) {
      return withSkuGuard(input.sku, () =>
        app.runInTenant(principal.tenantId, async (uow) => {
          const tenant = await deps.auth.getTenant(uow);
          const row = await repo.insert(uow.tx, {
            tenantId: uow.tenantId,
            id: newId(),
            name: input.name,
            sku: input.sku ?? null,
            price: input.price,
            currency: tenant.currency,
            category: input.category ?? null,
            available: input.available,
          });
          menuChanged(uow);
          return toMenuItemView(row);
        }),
      );
    },

    list(principal: Principal, opts: { limit: number; afterId?: string | undefined; category?: string | undefined }) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toMenuItemView), opts.limit);
      });
    },

    /** Archived items are still returned (with `available: false`) so history can be shown. @throws ProblemError 404. */
    get(principal: Principal, id: string) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const row = await repo.byId(tx, tenantId, id);
        if (!row) throw notFound();
        return toMenuItemView(row);
      });
    },

    /** @throws ProblemError 404 (unknown or archived), 409 duplicate-sku. */
    update(principal: Principal, id: string, patch: { name?: string | undefined; sku?: string | null | undefined; price?: number | undefined; category?: string | null | undefined; available?: boolean | undefined }) {
      return withSkuGuard(patch.sku, () =>
        app.runInTenant(principal.tenantId, async (uow) => {
          const current = await repo.byId(uow.tx, uow.tenantId, id);
          if (!current || current.archivedAt) throw notFound();
          const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
          const row = await repo.update(uow.tx, uow.tenantId, id, defined);
          menuChanged(uow);
          return toMenuItemView(row!);
        }),
      );
    },

    /**
     * Deletes an item; when another module still references it (order lines), archives it
     * instead (`available: false`, hidden from lists) so history stays intact.
     * @throws ProblemError 404.
     */
    remove(principal: Principal, id: string) {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const current = await repo.byId(uow.tx, uow.tenantId, id);
        if (!current || current.archivedAt) throw notFound();
        menuChanged(uow);
        for (const isReferenced of referenceChecks) {
          if (await isReferenced(uow, id)) {
            await repo.update(uow.tx, uow.tenantId, id, { available: false, archivedAt: new Date() });
            return 'archived' as const;
          }
        }
        await repo.delete(uow.tx, uow.tenantId, id);
        for (const onDeleted of deletionHooks) await onDeleted(uow, id);
        return 'deleted' as const;
      });
    },
  };
}

export type RestaurantService = ReturnType<typeof createRestaurantService>;
