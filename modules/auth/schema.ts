
import { boolean, char, foreignKey, index, integer, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
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


/**
 * Refresh tokens, stored as SHA-256 hashes (the token is 256 random bits, so a fast hash is
 * enough). Each login starts a family; every refresh rotates the token within its family. A
 * rotated token presented again means it was stolen: the whole family is revoked (OAuth 2.0
 * Security BCP, RFC 9700 §4.14.2, refresh token rotation).
 */
export const refreshTokens = authSchema.table(
  'refresh_tokens',
  {
    tenantId: uuid('tenant_id').notNull(),
    id: uuid('id').notNull(),
    userId: uuid('user_id').notNull(),
    familyId: uuid('family_id').notNull(),
    tokenHash: text('token_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    rotatedAt: timestamp('rotated_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'refresh_tokens_pk', columns: [t.tenantId, t.id] }),
    uniqueIndex('refresh_tokens_hash_uq').on(t.tenantId, t.tokenHash),
    index('refresh_tokens_family_idx').on(t.tenantId, t.familyId),
    index('refresh_tokens_user_idx').on(t.tenantId, t.userId),
    foreignKey({ name: 'refresh_tokens_user_fk', columns: [t.tenantId, t.userId], foreignColumns: [users.tenantId, users.id] }).onDelete('cascade'),
  ],
);
