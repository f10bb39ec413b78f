import { bigint, boolean, char, index, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/** The restaurant module's own PostgreSQL schema: the menu. */
export const restaurantSchema = pgSchema('restaurant');

/** A menu item. `price` is in minor units of `currency` (the tenant's, copied at creation). */
export const menuItems = restaurantSchema.table(
  'menu_items',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    name: text('name').notNull(),
    sku: text('sku'),
    price: bigint('price', { mode: 'number' }).notNull(),
    currency: char('currency', { length: 3 }).notNull(),
    category: text('category'),
    available: boolean('available').notNull().default(true),
    /** Set when a deleted item was kept because orders reference it. Archived items are hidden from lists. */
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'menu_items_pk', columns: [t.tenantId, t.id] }),
    uniqueIndex('menu_items_tenant_sku_uq').on(t.tenantId, t.sku),
    index('menu_items_tenant_category_idx').on(t.tenantId, t.category, t.id),
  ],
);
