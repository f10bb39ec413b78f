import { bigint, char, index, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** The payments module's own PostgreSQL schema. */
export const paymentsSchema = pgSchema('payments');

import { PAYMENT_METHODS, PAYMENT_ROW_STATUSES } from './gateway.ts';

/** A payment for one order. Amounts are minor units of `currency`. */
export const payments = paymentsSchema.table(
  'payments',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    orderId: uuid('order_id').notNull(),
    method: text('method', { enum: PAYMENT_METHODS }).notNull(),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    status: text('status', { enum: PAYMENT_ROW_STATUSES }).notNull(),
    /** Cash only: what the customer handed over, and the change given back. */
    tendered: bigint('tendered', { mode: 'number' }),
    change: bigint('change', { mode: 'number' }),
    /** Card only: which provider authorised it and its reference there. */
    provider: text('provider'),
    providerRef: text('provider_ref'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    refundedAt: timestamp('refunded_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'payments_pk', columns: [t.tenantId, t.id] }),
    index('payments_order_idx').on(t.tenantId, t.orderId),
  ],
);
