import { and, asc, eq, gt, gte, inArray, lte, sql } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { stockLevels, stockMovements } from './schema.ts';

export type StockLevelRow = typeof stockLevels.$inferSelect;

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
   * Adds `delta` (may be negative) only if the result stays >= 0, in one statement; returns the
   * new row, or undefined when the item is untracked or the result would be negative.
   */
  async addIfNonNegative(tx: Transaction, tenantId: string, menuItemId: string, delta: number): Promise<StockLevelRow | undefined> {
    const [row] = await tx
      .update(stockLevels)
      .set({ onHand: sql`${stockLevels.onHand} + ${delta}`, version: sql`${stockLevels.version} + 1`, updatedAt: sql`now()` })
      .where(and(eq(stockLevels.tenantId, tenantId), eq(stockLevels.menuItemId, menuItemId), gte(sql`${stockLevels.onHand} + ${delta}`, 0)))
      .returning();
    return row;
  },

  /** Stops tracking a menu item (its movements stay in the ledger). */
  async deleteLevel(tx: Transaction, tenantId: string, menuItemId: string): Promise<void> {
    await tx.delete(stockLevels).where(and(eq(stockLevels.tenantId, tenantId), eq(stockLevels.menuItemId, menuItemId)));
  },

  async recordMovement(tx: Transaction, row: typeof stockMovements.$inferInsert): Promise<void> {
    await tx.insert(stockMovements).values(row);
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
