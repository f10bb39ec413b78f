import { and, asc, eq, gt, sql, type SQL } from 'drizzle-orm';
import { queryRows, type Transaction } from '../../shared/database.ts';
import { excluded, reusableInsert, reusableStatement } from '../../shared/statements.ts';
import type { UnitOfWork } from '../../shared/unit-of-work.ts';
import type { OrderCancelled, OrderPaid } from '../orders/gateway.ts';
import type { StockLevelChanged } from '../inventory/gateway.ts';
import { itemSales, orderFacts, stockSnapshots } from './schema.ts';

type Period = { from: Date; to: Date };
const num = (v: unknown) => Number(v ?? 0);

/** The part of a unit of work the read-model writes need: they are pipelined (no answer awaited). */
type Writer = Pick<UnitOfWork, 'tx' | 'tenantId' | 'pipeline'>;

const p = sql.placeholder;

/** The hot writes of the event handlers, built once (shared/statements.ts). */
const upsertPaid = reusableStatement<{ tenantId: string; orderId: string; number: number; currency: string; paymentMethod: string; subtotal: number; tax: number; total: number; paidAt: Date }, unknown>(
  'reporting_paid',
  (tx) =>
    tx
      .insert(orderFacts)
      .values({ tenantId: p('tenantId'), orderId: p('orderId'), number: p('number'), currency: p('currency'), paymentMethod: p('paymentMethod'), subtotal: p('subtotal'), tax: p('tax'), total: p('total'), paidAt: p('paidAt') })
      .onConflictDoUpdate({ target: [orderFacts.tenantId, orderFacts.orderId], set: { subtotal: excluded(orderFacts.subtotal), tax: excluded(orderFacts.tax), total: excluded(orderFacts.total), paidAt: excluded(orderFacts.paidAt) } }),
);
const insertItemSales = reusableInsert('reporting_item_sales', itemSales, ['tenantId', 'orderId', 'lineNo', 'menuItemId', 'name', 'quantity', 'revenue'], (insert) => insert.onConflictDoNothing());
const upsertStock = reusableStatement<{ tenantId: string; menuItemId: string; onHand: number; lowStockThreshold: number; lowStock: boolean; version: number; updatedAt: Date }, unknown>('reporting_stock', (tx) =>
  tx
    .insert(stockSnapshots)
    .values({ tenantId: p('tenantId'), menuItemId: p('menuItemId'), onHand: p('onHand'), lowStockThreshold: p('lowStockThreshold'), lowStock: p('lowStock'), version: p('version'), updatedAt: p('updatedAt') })
    .onConflictDoUpdate({
      target: [stockSnapshots.tenantId, stockSnapshots.menuItemId],
      set: { onHand: excluded(stockSnapshots.onHand), lowStockThreshold: excluded(stockSnapshots.lowStockThreshold), lowStock: excluded(stockSnapshots.lowStock), version: excluded(stockSnapshots.version), updatedAt: excluded(stockSnapshots.updatedAt) },
      setWhere: sql`${stockSnapshots.version} < excluded.version`,
    }),
);

/**
 * Read-model writes (from events) and report queries of the reporting module. The writes only
 * queue their statements on the unit of work's pipeline, so a batch of events costs one round
 * trip for all its writes (with COMMIT).
 */
export const reportingRepository = {
  recordPaid({ tx, tenantId, pipeline }: Writer, e: OrderPaid['payload']): void {
    pipeline(upsertPaid(tx, { tenantId, orderId: e.orderId, number: e.number, currency: e.currency, paymentMethod: e.paymentMethod, subtotal: e.subtotal, tax: e.tax, total: e.total, paidAt: new Date(e.paidAt) }));
    if (e.lines.length > 0) {
      pipeline(insertItemSales(tx, e.lines.map((l, i) => ({ tenantId, orderId: e.orderId, lineNo: i + 1, menuItemId: l.menuItemId, name: l.name, quantity: l.quantity, revenue: l.lineTotal }))));
    }
  },

  recordCancelled({ tx, tenantId, pipeline }: Writer, e: OrderCancelled['payload']): void {
    const cancelled = { refundAmount: e.refundAmount, cancelledAt: new Date(e.cancelledAt) };
    pipeline(
      tx
        .insert(orderFacts)
        .values({ tenantId, orderId: e.orderId, number: e.number, currency: e.currency, paymentMethod: e.paymentMethod, ...cancelled })
        .onConflictDoUpdate({ target: [orderFacts.tenantId, orderFacts.orderId], set: cancelled })
        .execute(),
    );
  },

  /** Keeps the newest snapshot: an older version arriving late changes nothing. */
  recordStock({ tx, tenantId, pipeline }: Writer, e: StockLevelChanged['payload'], at: Date): void {
    pipeline(upsertStock(tx, { tenantId, menuItemId: e.menuItemId, onHand: e.onHand, lowStockThreshold: e.lowStockThreshold, lowStock: e.lowStock, version: e.version, updatedAt: at }));
  },

  forgetStock({ tx, tenantId, pipeline }: Writer, menuItemId: string): void {
    pipeline(tx.delete(stockSnapshots).where(and(eq(stockSnapshots.tenantId, tenantId), eq(stockSnapshots.menuItemId, menuItemId))).execute());
  },

  /**
   * Paid (gross, tax, count) and refunded sums per local day/hour of the zone `atTimeZone` (the
   * operand of `AT TIME ZONE`: a zone name, or an interval for a UTC offset; see shared/time-zones.ts).
   */
  async salesBuckets(tx: Transaction, tenantId: string, q: Period & { groupBy: 'day' | 'hour'; atTimeZone: SQL }) {
    const rows = await queryRows<{ start: string | Date; orders: unknown; gross: unknown; tax: unknown; refunds: unknown }>(
      tx,
      sql`
        with paid as (
          select date_trunc(${q.groupBy}, paid_at at time zone ${q.atTimeZone}) as bucket,
                 count(*) as orders, sum(total) as gross, sum(tax) as tax
          from reporting.order_facts
          where tenant_id = ${tenantId} and paid_at >= ${q.from.toISOString()} and paid_at < ${q.to.toISOString()}
          group by 1
        ), refunded as (
          select date_trunc(${q.groupBy}, cancelled_at at time zone ${q.atTimeZone}) as bucket, sum(refund_amount) as refunds
          from reporting.order_facts
          where tenant_id = ${tenantId} and cancelled_at >= ${q.from.toISOString()} and cancelled_at < ${q.to.toISOString()}
          group by 1
        )
        select (coalesce(p.bucket, r.bucket) at time zone ${q.atTimeZone}) as start,
               coalesce(p.orders, 0) as orders, coalesce(p.gross, 0) as gross,
               coalesce(p.tax, 0) as tax, coalesce(r.refunds, 0) as refunds
        from paid p full outer join refunded r on p.bucket = r.bucket
        order by 1`,
    );
    return rows.map((r) => ({ start: new Date(r.start).toISOString(), orders: num(r.orders), gross: num(r.gross), tax: num(r.tax), refunds: num(r.refunds) }));
  },

  /** Best sellers among orders paid in the period and not cancelled, by units then revenue. */
  async topItems(tx: Transaction, tenantId: string, q: Period & { limit: number }) {
    const rows = await queryRows<{ menu_item_id: string; name: string; quantity: unknown; revenue: unknown; orders: unknown }>(
      tx,
      sql`
        select s.menu_item_id, (array_agg(s.name order by f.paid_at desc))[1] as name,
               sum(s.quantity) as quantity, sum(s.revenue) as revenue, count(distinct s.order_id) as orders
        from reporting.item_sales s
        join reporting.order_facts f on f.tenant_id = s.tenant_id and f.order_id = s.order_id
        where s.tenant_id = ${tenantId} and f.paid_at >= ${q.from.toISOString()} and f.paid_at < ${q.to.toISOString()}
          and f.cancelled_at is null
        group by s.menu_item_id
        order by quantity desc, revenue desc, s.menu_item_id
        limit ${q.limit}`,
    );
    return rows.map((r) => ({ menuItemId: r.menu_item_id, name: r.name, quantity: num(r.quantity), revenue: num(r.revenue), orders: num(r.orders) }));
  },

  /** Orders paid in the period per payment method: count, gross, and how much of it was refunded. */
  async paymentMix(tx: Transaction, tenantId: string, q: Period) {
    const rows = await queryRows<{ method: 'cash' | 'card'; orders: unknown; gross: unknown; refunds: unknown }>(
      tx,
      sql`
        select payment_method as method, count(*) as orders, sum(total) as gross, coalesce(sum(refund_amount), 0) as refunds
        from reporting.order_facts
        where tenant_id = ${tenantId} and paid_at >= ${q.from.toISOString()} and paid_at < ${q.to.toISOString()}
        group by payment_method
        order by payment_method`,
    );
    return rows.map((r) => ({ method: r.method, orders: num(r.orders), gross: num(r.gross), refunds: num(r.refunds), net: num(r.gross) - num(r.refunds) }));
  },

  async lowStock(tx: Transaction, tenantId: string, limit: number, afterId?: string) {
    return tx
      .select()
      .from(stockSnapshots)
      .where(and(eq(stockSnapshots.tenantId, tenantId), eq(stockSnapshots.lowStock, true), afterId ? gt(stockSnapshots.menuItemId, afterId) : undefined))
      .orderBy(asc(stockSnapshots.menuItemId))
      .limit(limit);
  },
};
