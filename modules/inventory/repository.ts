import { and, asc, between, eq, gt, inArray, lte, sql } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { reusableInsert, reusableStatement } from '../../shared/statements.ts';
import { INT4_MAX, stockLevels, stockMovements } from './schema.ts';

export type StockLevelRow = typeof stockLevels.$inferSelect;

const p = sql.placeholder;
/** The hot statements of taking stock, built once (shared/statements.ts). */
const addWithinBounds = reusableStatement<{ tenantId: string; menuItemId: string; delta: number; max: number }, StockLevelRow[]>('inventory_add_within_bounds', (tx) =>
  tx
    .update(stockLevels)
    .set({ onHand: sql`${stockLevels.onHand} + ${p('delta')}`, version: sql`${stockLevels.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(stockLevels.tenantId, p('tenantId')), eq(stockLevels.menuItemId, p('menuItemId')), between(sql`${stockLevels.onHand}::bigint + ${p('delta')}`, 0, p('max'))))
    .returning(),
);
const MOVEMENT_COLUMNS = ['tenantId', 'id', 'menuItemId', 'delta', 'reason', 'onHandAfter', 'orderId', 'userId'] as const;
const insertMovements = reusableInsert('inventory_insert_movements', stockMovements, MOVEMENT_COLUMNS);

/** Data access of the inventory module; every function takes the transaction it runs in. */
export const inventoryRepository = {
  async byItem(tx: Transaction, tenantId: string, menuItemId: string, forUpdate = false): Promise<StockLevelRow | undefined> {
    const q = tx
      .select()
      .from(stockLevels)
      .where(and(eq(stockLevels.tenantId, tenantId), eq(stockLevels.menuItemId, menuItemId)));
    const [row] = forUpdate ? await q.for('update') : await q;
    return row;
  },

  async byItems(tx: Transaction, tenantId: string, menuItemIds: string[]): Promise<StockLevelRow[]> {
    return tx
      .select()
      .from(stockLevels)
      .where(and(eq(stockLevels.tenantId, tenantId), inArray(stockLevels.menuItemId, menuItemIds)));
  },

  async upsert(tx: Transaction, row: { tenantId: string; menuItemId: string; onHand: number; lowStockThreshold?: number | undefined }): Promise<StockLevelRow> {
    const [saved] = await tx
      .insert(stockLevels)
      .values({ ...row, lowStockThreshold: row.lowStockThreshold ?? 0 })
      .onConflictDoUpdate({
        target: [stockLevels.tenantId, stockLevels.menuItemId],
        set: {
          onHand: row.onHand,
          version: sql`${stockLevels.version} + 1`,
          updatedAt: sql`now()`,
          ...(row.lowStockThreshold !== undefined ? { lowStockThreshold: row.lowStockThreshold } : {}),
        },
      })
      .returning();
    return saved!;
  },

  /**
   * Adds `delta` (may be negative) only if the result stays within `0..max`, in one statement
   * (computed in bigint, so it cannot overflow the int4 column); returns the new row, or
   * undefined when the item is untracked or the result would leave the bounds.
   */
  async addWithinBounds(tx: Transaction, tenantId: string, menuItemId: string, delta: number, max: number = INT4_MAX): Promise<StockLevelRow | undefined> {
    const [row] = await addWithinBounds(tx, { tenantId, menuItemId, delta, max });
    return row;
  },

  /** Sets the level of a tracked item (already locked by the caller); undefined if untracked. */
  async setOnHand(tx: Transaction, tenantId: string, menuItemId: string, onHand: number): Promise<StockLevelRow | undefined> {
    const [row] = await tx
      .update(stockLevels)
      .set({ onHand, version: sql`${stockLevels.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(stockLevels.tenantId, tenantId), eq(stockLevels.menuItemId, menuItemId)))
      .returning();
    return row;
  },

  /** Tracked levels of `menuItemIds`, locked FOR UPDATE in menu item id order (no deadlocks). */
  async lockItems(tx: Transaction, tenantId: string, menuItemIds: string[]): Promise<StockLevelRow[]> {
    return tx
      .select()
      .from(stockLevels)
      .where(and(eq(stockLevels.tenantId, tenantId), inArray(stockLevels.menuItemId, menuItemIds)))
      .orderBy(asc(stockLevels.menuItemId))
      .for('update');
  },

  /** Units each item lost to the `sale` movements of an order (positive numbers). */
  async soldBy(tx: Transaction, tenantId: string, orderId: string): Promise<Array<{ menuItemId: string; quantity: number }>> {
    const rows = await tx
      .select({ menuItemId: stockMovements.menuItemId, quantity: sql<string>`-sum(${stockMovements.delta})` })
      .from(stockMovements)
      .where(and(eq(stockMovements.tenantId, tenantId), eq(stockMovements.orderId, orderId), eq(stockMovements.reason, 'sale')))
      .groupBy(stockMovements.menuItemId);
    return rows.map((r) => ({ menuItemId: r.menuItemId, quantity: Number(r.quantity) })).filter((r) => r.quantity > 0);
  },

  /** Stops tracking a menu item (its movements stay in the ledger). */
  async deleteLevel(tx: Transaction, tenantId: string, menuItemId: string): Promise<void> {
    await tx.delete(stockLevels).where(and(eq(stockLevels.tenantId, tenantId), eq(stockLevels.menuItemId, menuItemId)));
  },

  async recordMovement(tx: Transaction, row: typeof stockMovements.$inferInsert): Promise<void> {
    await tx.insert(stockMovements).values(row);
  },

  /** Starts the insert of movement rows (for `uow.pipeline`: nobody waits for its answer). */
  insertMovements(tx: Transaction, rows: Array<Pick<typeof stockMovements.$inferInsert, (typeof MOVEMENT_COLUMNS)[number]>>): Promise<unknown> {
    return insertMovements(tx, rows);
  },

  /** Tracked items in menu item id order; `lowStock` keeps those at or below their threshold. */
  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string | undefined; lowStock?: boolean | undefined }): Promise<StockLevelRow[]> {
    return tx
      .select()
      .from(stockLevels)
      .where(
        and(
          eq(stockLevels.tenantId, tenantId),
          opts.lowStock ? lte(stockLevels.onHand, stockLevels.lowStockThreshold) : undefined,
          opts.afterId ? gt(stockLevels.menuItemId, opts.afterId) : undefined,
        ),
      )
      .orderBy(asc(stockLevels.menuItemId))
      .limit(opts.limit);
  },
};
