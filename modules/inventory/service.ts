import type { FastifyInstance } from 'fastify';
import type { RestaurantGateway } from '../restaurant/gateway.ts';
import type { Principal } from '../../shared/auth-guard.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { inventoryProblems } from './problems.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import { domainEvent } from '../../shared/event-bus.ts';
import type { ModuleEventPort } from '../../shared/module.ts';
import type { SaleRef, StockLevelChange, StockLevelChanged, StockLine, StockTrackingStopped } from './gateway.ts';
import { inventoryRepository as repo, type StockLevelRow } from './repository.ts';
import { MAX_ON_HAND } from './gateway.ts';
import { INT4_MAX, type ADJUSTMENT_REASONS } from './schema.ts';
import type { StockLevelView } from './views.ts';


const toStockLevelView = (r: StockLevelRow): StockLevelView => ({
  menuItemId: r.menuItemId,
  onHand: r.onHand,
  lowStockThreshold: r.lowStockThreshold,
  lowStock: r.onHand <= r.lowStockThreshold,
  updatedAt: r.updatedAt.toISOString(),
});

const toChange = (r: StockLevelRow): StockLevelChange => ({ menuItemId: r.menuItemId, onHand: r.onHand, lowStockThreshold: r.lowStockThreshold });
const notTracked = () => problems.notFound('This menu item has no stock record (it is made to order).');

/** The gateways the inventory module uses (its declared `uses`). */
export interface InventoryDependencies {
  restaurant: RestaurantGateway;
}

/** Use cases of the inventory module. */
export function createInventoryService(app: FastifyInstance, deps: InventoryDependencies, events: ModuleEventPort) {
  /** Tells subscribers (reporting: low stock) about changed levels, in the same transaction. */
  const publishChanges = (uow: UnitOfWork, rows: StockLevelRow[]) =>
    rows.length === 0
      ? Promise.resolve()
      : events.publish(
          uow,
          ...rows.map((r) =>
            domainEvent<StockLevelChanged>(uow, 'StockLevelChanged', {
              menuItemId: r.menuItemId,
              onHand: r.onHand,
              lowStockThreshold: r.lowStockThreshold,
              lowStock: r.onHand <= r.lowStockThreshold,
              version: r.version,
            }),
          ),
        );

  const assertMenuItemExists = async (uow: UnitOfWork, menuItemId: string) => {
    const found = await deps.restaurant.findMenuItems(uow, [menuItemId]);
    if (!found.has(menuItemId)) throw problems.notFound('No such menu item.');
  };

  return {
    /** Sets the stock of a menu item (a count), creating its record. @throws ProblemError 404 unknown menu item. */
    setLevel(principal: Principal, menuItemId: string, input: { onHand: number; lowStockThreshold?: number | undefined }) {
      return app.runInTenant(principal.tenantId, async (uow) => {
        await assertMenuItemExists(uow, menuItemId);
        const before = await repo.byItem(uow.tx, uow.tenantId, menuItemId, true);
        const row = await repo.upsert(uow.tx, { tenantId: uow.tenantId, menuItemId, ...input });
        await repo.recordMovement(uow.tx, {
          tenantId: uow.tenantId,
          id: newId(),
          menuItemId,
          delta: row.onHand - (before?.onHand ?? 0),
          reason: 'count',
          onHandAfter: row.onHand,
          userId: principal.userId,
        });
        await publishChanges(uow, [row]);
        return toStockLevelView(row);
      });
    },

    /**
     * Adds `delta` units (negative to remove). @throws ProblemError 404 untracked item,
     * 409 `insufficient-stock` when the result would be negative, 409 `stock-limit-exceeded`
     * when it would pass {@link MAX_ON_HAND} (nothing changes).
     */
    adjust(principal: Principal, menuItemId: string, input: { delta: number; reason: (typeof ADJUSTMENT_REASONS)[number] }) {
      return app.runInTenant(principal.tenantId, async (uow) => {
        const { tx, tenantId } = uow;
        const row = await repo.addWithinBounds(tx, tenantId, menuItemId, input.delta, MAX_ON_HAND);
        if (!row) {
          const current = await repo.byItem(tx, tenantId, menuItemId);
          if (!current) throw notTracked();
          if (current.onHand + input.delta > MAX_ON_HAND) {
            throw inventoryProblems.stockLimitExceeded.create(
              `${current.onHand} on hand; adding ${input.delta} would pass the limit of ${MAX_ON_HAND} units per item.`,
              { menuItemId, onHand: current.onHand, limit: MAX_ON_HAND },
            );
          }
          throw inventoryProblems.insufficientStock.create(`Only ${current.onHand} on hand; removing ${-input.delta} would make stock negative.`, {
            menuItemId,
            onHand: current.onHand,
          });
        }
        await repo.recordMovement(tx, { tenantId, id: newId(), menuItemId, delta: input.delta, reason: input.reason, onHandAfter: row.onHand, userId: principal.userId });
        await publishChanges(uow, [row]);
        return toStockLevelView(row);
      });
    },

    /** @throws ProblemError 404 untracked item. */
    get(principal: Principal, menuItemId: string) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const row = await repo.byItem(tx, tenantId, menuItemId);
        if (!row) throw notTracked();
        return toStockLevelView(row);
      });
    },

    list(principal: Principal, opts: { limit: number; afterId?: string | undefined; lowStock?: boolean | undefined }) {
      return app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const rows = await repo.list(tx, tenantId, { ...opts, limit: opts.limit + 1 });
        return toPage(rows.map(toStockLevelView), opts.limit, (level) => level.menuItemId);
      });
    },

    /** Deletion hook of the restaurant module: a deleted menu item is no longer tracked. */
    async forgetMenuItem(uow: UnitOfWork, menuItemId: string): Promise<void> {
      await repo.deleteLevel(uow.tx, uow.tenantId, menuItemId);
      await events.publish(uow, domainEvent<StockTrackingStopped>(uow, 'StockTrackingStopped', { menuItemId }));
    },

    /** Gateway: see {@link import('./gateway.ts').InventoryGateway.takeStock}. */
    async takeStock(uow: UnitOfWork, lines: readonly StockLine[], sale: SaleRef): Promise<StockLevelChange[]> {
      // A fixed lock order (by id) makes concurrent multi-line orders deadlock-free. The updates
      // are sent together (pipelined: one round trip) and run in that order.
      const sorted = [...lines].sort((a, b) => (a.menuItemId < b.menuItemId ? -1 : 1));
      const rows = await Promise.all(sorted.map((line) => repo.addWithinBounds(uow.tx, uow.tenantId, line.menuItemId, -line.quantity)));
      const unchanged = sorted.filter((_, i) => !rows[i]);
      if (unchanged.length > 0) {
        const levels = await repo.byItems(uow.tx, uow.tenantId, unchanged.map((l) => l.menuItemId));
        for (const line of unchanged) {
          const current = levels.find((l) => l.menuItemId === line.menuItemId);
          if (!current) continue; // untracked: made to order
          throw inventoryProblems.insufficientStock.create(
            `Not enough stock for menu item ${line.menuItemId}: ${line.quantity} requested, ${current.onHand} on hand.`,
            { menuItemId: line.menuItemId, requested: line.quantity, onHand: current.onHand },
          );
        }
      }
      const taken = sorted.flatMap((line, i) => (rows[i] ? [{ line, row: rows[i] }] : []));
      if (taken.length > 0) {
        // The sale in the movement log: what a cancellation will give back. Pipelined: it leaves
        // with the order's next statements, no round trip of its own.
        uow.pipeline(
          repo.insertMovements(
            uow.tx,
            taken.map(({ line, row }) => ({
              tenantId: uow.tenantId,
              id: newId(),
              menuItemId: line.menuItemId,
              delta: -line.quantity,
              reason: 'sale' as const,
              onHandAfter: row.onHand,
              orderId: sale.orderId,
              userId: sale.userId ?? null,
            })),
          ),
        );
      }
      const changed = taken.map((t) => t.row);
      await publishChanges(uow, changed);
      return changed.map(toChange);
    },

    /** Gateway: see {@link import('./gateway.ts').InventoryGateway.restoreStock}. */
    async restoreStock(uow: UnitOfWork, sale: SaleRef): Promise<StockLevelChange[]> {
      const { tx, tenantId } = uow;
      const sold = await repo.soldBy(tx, tenantId, sale.orderId);
      if (sold.length === 0) return [];
      const levels = await repo.lockItems(tx, tenantId, sold.map((s) => s.menuItemId));
      const restocks = levels.map((level) => {
        const quantity = sold.find((s) => s.menuItemId === level.menuItemId)!.quantity;
        // Never past the int4 column: a cancellation must always succeed.
        return { level, onHand: Math.min(level.onHand + quantity, INT4_MAX) };
      });
      const changed = (await Promise.all(restocks.map((r) => repo.setOnHand(tx, tenantId, r.level.menuItemId, r.onHand)))).filter(
        (r): r is StockLevelRow => r !== undefined,
      );
      if (restocks.length > 0) {
        uow.pipeline(
          repo.insertMovements(
            tx,
            restocks.map((r) => ({
              tenantId,
              id: newId(),
              menuItemId: r.level.menuItemId,
              delta: r.onHand - r.level.onHand,
              reason: 'cancellation' as const,
              onHandAfter: r.onHand,
              orderId: sale.orderId,
              userId: sale.userId ?? null,
            })),
          ),
        );
      }
      await publishChanges(uow, changed);
      return changed.map(toChange);
    },
  };
}

export type InventoryService = ReturnType<typeof createInventoryService>;
