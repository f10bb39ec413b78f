import { bigint, char, foreignKey, index, integer, pgSchema, primaryKey, smallint, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** The orders module's own PostgreSQL schema. */
export const ordersSchema = pgSchema('orders');

export const ORDER_STATUSES = ['paid', 'cancelled'] as const;

/** An order. Money columns are minor units of `currency`; `number` counts up per tenant from 1. */
export const orders = ordersSchema.table(
  'orders',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    number: integer('number').notNull(),
    status: text('status', { enum: ORDER_STATUSES }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    subtotal: bigint('subtotal', { mode: 'number' }).notNull(),
    tax: bigint('tax', { mode: 'number' }).notNull(),
    total: bigint('total', { mode: 'number' }).notNull(),
    note: text('note'),
    paymentId: uuid('payment_id').notNull(),
    createdBy: uuid('created_by').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    cancelledAt: timestamp('cancelled_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'orders_pk', columns: [t.tenantId, t.id] }),
    uniqueIndex('orders_tenant_number_uq').on(t.tenantId, t.number),
    index('orders_tenant_created_idx').on(t.tenantId, t.createdAt),
  ],
);

/** Lines of an order, with name and unit price snapshotted when it was placed. */
export const orderLines = ordersSchema.table(
  'order_lines',
  {
    tenantId: uuid('tenant_id').notNull(),
    orderId: uuid('order_id').notNull(),
    lineNo: smallint('line_no').notNull(),
    menuItemId: uuid('menu_item_id').notNull(),
    name: text('name').notNull(),
    unitPrice: bigint('unit_price', { mode: 'number' }).notNull(),
    quantity: integer('quantity').notNull(),
    lineTotal: bigint('line_total', { mode: 'number' }).notNull(),
  },
  (t) => [
    primaryKey({ name: 'order_lines_pk', columns: [t.tenantId, t.orderId, t.lineNo] }),
    foreignKey({ name: 'order_lines_order_fk', columns: [t.tenantId, t.orderId], foreignColumns: [orders.tenantId, orders.id] }).onDelete('cascade'),
    index('order_lines_menu_item_idx').on(t.tenantId, t.menuItemId),
  ],
);

/** Last order number given out per tenant; its row lock serialises numbering, not the whole order. */
export const orderCounters = ordersSchema.table('order_counters', {
  tenantId: uuid('tenant_id').primaryKey(),
  lastNumber: integer('last_number').notNull(),
});
