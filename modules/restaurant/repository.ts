import { and, asc, eq, gt, inArray, isNull, sql } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { reusableStatement } from '../../shared/statements.ts';
import { menuItems } from './schema.ts';

export type MenuItemRow = typeof menuItems.$inferSelect;
type MenuItemPatch = Partial<Pick<MenuItemRow, 'name' | 'sku' | 'price' | 'category' | 'available' | 'archivedAt'>>;

/** Menu items by id of one tenant, one statement per id count (shared/statements.ts). */
const menuItemsByIds = reusableStatement<Record<string, string>, MenuItemRow[]>('restaurant_items_by_ids', (tx, shape) =>
  tx
    .select()
    .from(menuItems)
    .where(and(eq(menuItems.tenantId, sql.placeholder('tenantId')), inArray(menuItems.id, Array.from({ length: Number(shape) }, (_, i) => sql.placeholder(`id_${i}`))))),
);

/** Data access of the restaurant module; every function takes the transaction it runs in. */
export const restaurantRepository = {
  async insert(tx: Transaction, row: typeof menuItems.$inferInsert): Promise<MenuItemRow> {
    const [created] = await tx.insert(menuItems).values(row).returning();
    return created!;
  },

  async byId(tx: Transaction, tenantId: string, id: string): Promise<MenuItemRow | undefined> {
    const [row] = await tx.select().from(menuItems).where(and(eq(menuItems.tenantId, tenantId), eq(menuItems.id, id)));
    return row;
  },

  async byIds(tx: Transaction, tenantId: string, ids: readonly string[]): Promise<MenuItemRow[]> {
    if (ids.length === 0) return [];
    return menuItemsByIds(tx, { tenantId, ...Object.fromEntries(ids.map((id, i) => [`id_${i}`, id])) }, String(ids.length));
  },

  /** Live (not archived) items in id order, optionally of one category, after `afterId`. */
  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string; category?: string }): Promise<MenuItemRow[]> {
    return tx
      .select()
      .from(menuItems)
      .where(
        and(
          eq(menuItems.tenantId, tenantId),
          isNull(menuItems.archivedAt),
          opts.category !== undefined ? eq(menuItems.category, opts.category) : undefined,
          opts.afterId ? gt(menuItems.id, opts.afterId) : undefined,
        ),
      )
      .orderBy(asc(menuItems.id))
      .limit(opts.limit);
  },

  async update(tx: Transaction, tenantId: string, id: string, patch: MenuItemPatch): Promise<MenuItemRow | undefined> {
    const [row] = await tx
      .update(menuItems)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(menuItems.tenantId, tenantId), eq(menuItems.id, id)))
      .returning();
    return row;
  },

  async delete(tx: Transaction, tenantId: string, id: string): Promise<void> {
    await tx.delete(menuItems).where(and(eq(menuItems.tenantId, tenantId), eq(menuItems.id, id)));
  },
};
