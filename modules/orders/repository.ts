import { and, asc, eq, gt, gte, inArray, lt, sql } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { placeholderRows, reusableInsert, reusableStatement, rowValues } from '../../shared/statements.ts';
import { orderCounters, orderLines, orders } from './schema.ts';

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;

const p = sql.placeholder;
/** The order's columns as the service writes them (its number comes from the counter). */
const ORDER_COLUMNS = ['tenantId', 'id', 'status', 'currency', 'subtotal', 'tax', 'total', 'note', 'paymentId', 'createdBy'] as const;

/** The order's hot statements, built once (shared/statements.ts). */
const bumpCounter = reusableStatement<{ tenantId: string }, unknown>('orders_bump_counter', (tx) =>
  tx
    .insert(orderCounters)
    .values({ tenantId: p('tenantId'), lastNumber: 1 })
    .onConflictDoUpdate({ target: orderCounters.tenantId, set: { lastNumber: sql`${orderCounters.lastNumber} + 1` } }),
);
const insertOrder = reusableStatement<Record<string, unknown>, OrderRow[]>('orders_insert', (tx) => {
  const [row] = placeholderRows(ORDER_COLUMNS, 1);
  return tx
    .insert(orders)
    .values({ ...row!, number: sql`(select ${orderCounters.lastNumber} from ${orderCounters} where ${orderCounters.tenantId} = ${row!.tenantId})` })
    .returning();
});
const insertLines = reusableInsert('orders_insert_lines', orderLines, ['tenantId', 'orderId', 'lineNo', 'menuItemId', 'name', 'unitPrice', 'quantity', 'lineTotal']);

/** Data access of the orders module; every function takes the transaction it runs in. */
export const ordersRepository = {
  /**
   * Writes an order and its lines with the tenant's next number (1, 2, ...). The counter upsert,
   * the order insert (reading the bumped counter) and the lines insert are sent together
   * (pipelined: one round trip). The counter row stays locked until commit, so numbers are
   * unique, gap-free (a rollback gives the number back) and increasing.
   */
  async insertNumbered(tx: Transaction, order: Omit<typeof orders.$inferInsert, 'number'>, lines: (typeof orderLines.$inferInsert)[]): Promise<OrderRow> {
    const [, [row]] = await Promise.all([bumpCounter(tx, { tenantId: order.tenantId }), insertOrder(tx, rowValues(ORDER_COLUMNS, [order])), insertLines(tx, lines)]);
    return row!;
  },

  async byId(tx: Transaction, tenantId: string, id: string, forUpdate = false): Promise<OrderRow | undefined> {
    const q = tx.select().from(orders).where(and(eq(orders.tenantId, tenantId), eq(orders.id, id)));
    const [row] = forUpdate ? await q.for('update') : await q;
    return row;
  },

  async linesOf(tx: Transaction, tenantId: string, orderIds: string[]): Promise<OrderLineRow[]> {
    if (orderIds.length === 0) return [];
    return tx
      .select()
      .from(orderLines)
      .where(and(eq(orderLines.tenantId, tenantId), inArray(orderLines.orderId, orderIds)))
      .orderBy(asc(orderLines.orderId), asc(orderLines.lineNo));
  },

  async markCancelled(tx: Transaction, tenantId: string, id: string): Promise<OrderRow> {
    const [row] = await tx
      .update(orders)
      .set({ status: 'cancelled', cancelledAt: new Date() })
      .where(and(eq(orders.tenantId, tenantId), eq(orders.id, id)))
      .returning();
    return row!;
  },

  async list(
    tx: Transaction,
    tenantId: string,
    opts: { limit: number; afterId?: string | undefined; status?: OrderRow['status'] | undefined; from?: Date | undefined; to?: Date | undefined },
  ): Promise<OrderRow[]> {
    return tx
      .select()
      .from(orders)
      .where(
        and(
          eq(orders.tenantId, tenantId),
          opts.status ? eq(orders.status, opts.status) : undefined,
          opts.from ? gte(orders.createdAt, opts.from) : undefined,
          opts.to ? lt(orders.createdAt, opts.to) : undefined,
          opts.afterId ? gt(orders.id, opts.afterId) : undefined,
        ),
      )
      .orderBy(asc(orders.id))
      .limit(opts.limit);
  },

  async referencesMenuItem(tx: Transaction, tenantId: string, menuItemId: string): Promise<boolean> {
    const rows = await tx
      .select({ one: sql`1` })
      .from(orderLines)
      .where(and(eq(orderLines.tenantId, tenantId), eq(orderLines.menuItemId, menuItemId)))
      .limit(1);
    return rows.length > 0;
  },
};
