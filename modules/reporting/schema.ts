import { bigint, boolean, char, index, integer, pgSchema, primaryKey, smallint, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * The reporting module's own PostgreSQL schema: a read model built only from domain events
 * (OrderPaid, OrderCancelled, StockLevelChanged). It never reads another module's tables.
 */
export const reportingSchema = pgSchema('reporting');

/**
 * One row per order. Paid and cancelled facts arrive as separate events in any order, so each
 * half is nullable until its event is handled. Money in minor units of `currency`.
 */
export const orderFacts = reportingSchema.table(
  'order_facts',
  {
    tenantId: uuid('tenant_id').notNull(),
    orderId: uuid('order_id').notNull(),
    number: integer('number').notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    paymentMethod: text('payment_method', { enum: ['cash', 'card'] }).notNull(),
    subtotal: bigint('subtotal', { mode: 'number' }),
    tax: bigint('tax', { mode: 'number' }),
    total: bigint('total', { mode: 'number' }),
    paidAt: timestamp('paid_at', { withTimezone: true }),
    refundAmount: bigint('refund_amount', { mode: 'number' }),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'order_facts_pk', columns: [t.tenantId, t.orderId] }),
    index('order_facts_paid_idx').on(t.tenantId, t.paidAt),
    index('order_facts_cancelled_idx').on(t.tenantId, t.cancelledAt),
  ],
);

/** Order lines of paid orders, for top items. Money in minor units. */
export const itemSales = reportingSchema.table(
  'item_sales',
  {
    tenantId: uuid('tenant_id').notNull(),
    orderId: uuid('order_id').notNull(),
    lineNo: smallint('line_no').notNull(),
    menuItemId: uuid('menu_item_id').notNull(),
    name: text('name').notNull(),
    quantity: integer('quantity').notNull(),
    revenue: bigint('revenue', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ name: 'item_sales_pk', columns: [t.tenantId, t.orderId, t.lineNo] }), index('item_sales_item_idx').on(t.tenantId, t.menuItemId)],
);

/** Latest known stock of tracked items (highest `version` wins). */
export const stockSnapshots = reportingSchema.table(
  'stock_snapshots',
  {
    tenantId: uuid('tenant_id').notNull(),
    menuItemId: uuid('menu_item_id').notNull(),
    onHand: integer('on_hand').notNull(),
    lowStockThreshold: integer('low_stock_threshold').notNull(),
    lowStock: boolean('low_stock').notNull(),
    version: integer('version').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'stock_snapshots_pk', columns: [t.tenantId, t.menuItemId] }), index('stock_snapshots_low_idx').on(t.tenantId, t.lowStock)],
);
