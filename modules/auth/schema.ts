
import { boolean, char, index, integer, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { ROLES } from '../../shared/auth-guard.ts';

/** The auth module's own PostgreSQL schema: tenants (restaurants) and their staff. */
export const authSchema = pgSchema('auth');

/** The tenant directory. Not tenant-owned itself: login finds a tenant by slug before it knows it. */
export const tenants = authSchema.table('tenants', {
  id: uuid('id').primaryKey(),
  slug: text('slug').notNull().unique('tenants_slug_uq'),
  name: text('name').notNull(),
  currency: char('currency', { length: 3 }).notNull(),
  taxRateBps: integer('tax_rate_bps').notNull().default(0),
  timeZone: text('time_zone').notNull().default('UTC'),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/** Staff of a tenant. `email` is stored trimmed and lower-cased. */
export const users = authSchema.table(
  'users',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    id: uuid('id').notNull(),
    email: text('email').notNull(),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: ROLES }).notNull(),
    active: boolean('active').notNull().default(true),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'users_pk', columns: [t.tenantId, t.id] }),
    uniqueIndex('users_tenant_email_uq').on(t.tenantId, t.email),
    index('users_tenant_created_idx').on(t.tenantId, t.id),
  ],
);

