import { and, asc, eq, gt, inArray } from 'drizzle-orm';
import type { Transaction } from '../../shared/database.ts';
import { payments } from './schema.ts';

export type PaymentRow = typeof payments.$inferSelect;

/** Data access of the payments module; every function takes the transaction it runs in. */
export const paymentsRepository = {
  async insert(tx: Transaction, row: typeof payments.$inferInsert): Promise<PaymentRow> {
    const [created] = await tx.insert(payments).values(row).returning();
    return created!;
  },

  async byId(tx: Transaction, tenantId: string, id: string): Promise<PaymentRow | undefined> {
    const [row] = await tx.select().from(payments).where(and(eq(payments.tenantId, tenantId), eq(payments.id, id)));
    return row;
  },

  async byIds(tx: Transaction, tenantId: string, ids: readonly string[]): Promise<PaymentRow[]> {
    if (ids.length === 0) return [];
    return tx.select().from(payments).where(and(eq(payments.tenantId, tenantId), inArray(payments.id, [...ids])));
  },

  /** Marks a captured payment refunded; undefined when it was not captured (already refunded). */
  async markRefunded(tx: Transaction, tenantId: string, id: string): Promise<PaymentRow | undefined> {
    const [row] = await tx
      .update(payments)
      .set({ status: 'refunded', refundedAt: new Date() })
      .where(and(eq(payments.tenantId, tenantId), eq(payments.id, id), eq(payments.status, 'captured')))
      .returning();
    return row;
  },

  async list(tx: Transaction, tenantId: string, opts: { limit: number; afterId?: string | undefined; orderId?: string | undefined }): Promise<PaymentRow[]> {
    return tx
      .select()
      .from(payments)
      .where(
        and(
          eq(payments.tenantId, tenantId),
          opts.orderId ? eq(payments.orderId, opts.orderId) : undefined,
          opts.afterId ? gt(payments.id, opts.afterId) : undefined,
        ),
      )
      .orderBy(asc(payments.id))
      .limit(opts.limit);
  },
};
