import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/** The inventory module's own PostgreSQL schema: stock per menu item. */
export const inventorySchema = pgSchema('inventory');

/** Adjustment reasons accepted by `POST /items/:id/adjustments`. */
export const ADJUSTMENT_REASONS = ['delivery', 'waste', 'count', 'correction'] as const;

/**
 * Stock of one tracked menu item. Items without a row are made to order and never run out.
 * The CHECK is the last line of defence: stock can never be negative, whatever the code does.
 */
export const stockLevels = inventorySchema.table(
  'stock_levels',
  {
    tenantId: uuid('tenant_id').notNull(),
    menuItemId: uuid('menu_item_id').notNull(),
    onHand: integer('on_hand').notNull(),
    lowStockThreshold: integer('low_stock_threshold').notNull().default(0),
    /** Increases by one with every change; carried by StockLevelChanged for ordering. */
    version: integer('version').notNull().default(1),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'stock_levels_pk', columns: [t.tenantId, t.menuItemId] }),
    check('stock_levels_on_hand_non_negative', sql`${t.onHand} >= 0`),
    check('stock_levels_threshold_non_negative', sql`${t.lowStockThreshold} >= 0`),
  ],
);

/** Ledger of manual stock changes (set and adjustments), for audit. */
export const stockMovements = inventorySchema.table(
  'stock_movements',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    menuItemId: uuid('menu_item_id').notNull(),
    delta: integer('delta').notNull(),
    reason: text('reason').notNull(),
    onHandAfter: integer('on_hand_after').notNull(),
    userId: uuid('user_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'stock_movements_pk', columns: [t.tenantId, t.id] }), index('stock_movements_item_idx').on(t.tenantId, t.menuItemId)],
);
