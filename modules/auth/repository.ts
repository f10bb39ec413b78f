import { and, asc, eq, gt, lt, sql } from 'drizzle-orm';
import { queryRows, type Database, type Transaction } from '../../shared/database.ts';
import type { Role } from '../../shared/auth-guard.ts';
import { refreshTokens, tenants, users } from './schema.ts';

export type TenantRow = typeof tenants.$inferSelect;
export type UserRow = typeof users.$inferSelect;

/** Data access of the auth module; every function takes the transaction it runs in. */
export const authRepository = {
  async tenantById(tx: Transaction, id: string): Promise<TenantRow | undefined> {
    const [row] = await tx.select().from(tenants).where(eq(tenants.id, id));
    return row;
  },

  /**
   * Tenant id of a slug, for login, before any tenant is known. Row-level security hides the
   * tenant directory from tenant transactions, so this goes through the owner-run function
   * `auth.tenant_id_by_slug` (see drizzle/0001_row_level_security.sql), which reveals nothing else.
   */
  /**
   * Ids of every tenant. Runs on the owner's connection (auth.tenants is not under forced
   * row-level security, see drizzle/0001), outside any tenant.
   */
  async allTenantIds(db: Database): Promise<string[]> {
    return (await queryRows<{ id: string }>(db, sql`select id from auth.tenants order by id`)).map((r) => r.id);
  },

  /** Deletes the tenant's refresh tokens that expired more than a day ago; returns how many. */
  async deleteExpiredRefreshTokens(tx: Transaction, tenantId: string): Promise<number> {
    const gone = await tx
      .delete(refreshTokens)
      .where(and(eq(refreshTokens.tenantId, tenantId), lt(refreshTokens.expiresAt, sql`now() - interval '1 day'`)))
      .returning({ id: refreshTokens.id });
    return gone.length;
  },

  /** The tenant of a login slug, past row-level security (`auth.tenant_id_by_slug`, security definer). */
  async tenantIdBySlug(db: Pick<Database, 'execute'>, slug: string): Promise<string | undefined> {
    const [row] = await queryRows<{ id: string | null }>(db, sql`select auth.tenant_id_by_slug(${slug}) as id`);
    return row?.id ?? undefined;
  },

  async insertTenant(tx: Transaction, row: typeof tenants.$inferInsert): Promise<TenantRow> {
    const [created] = await tx.insert(tenants).values(row).returning();
    return created!;
  },

  async insertUser(tx: Transaction, row: typeof users.$inferInsert): Promise<UserRow> {
    const [created] = await tx.insert(users).values(row).returning();
    return created!;
  },

  async userByEmail(tx: Transaction, tenantId: string, email: string): Promise<UserRow | undefined> {
    const [row] = await tx.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.email, email)));
    return row;
  },

  async userById(tx: Transaction, tenantId: string, id: string): Promise<UserRow | undefined> {
    const [row] = await tx.select().from(users).where(and(eq(users.tenantId, tenantId), eq(users.id, id)));
    return row;
  },

  async setActive(tx: Transaction, tenantId: string, id: string, active: boolean): Promise<UserRow | undefined> {
    const [row] = await tx.update(users).set({ active }).where(and(eq(users.tenantId, tenantId), eq(users.id, id))).returning();
    return row;
  },

  /** Staff ordered by id (creation order), `limit` rows after `afterId`. */
  async listUsers(tx: Transaction, tenantId: string, limit: number, afterId?: string): Promise<UserRow[]> {
    return tx
      .select()
      .from(users)
      .where(and(eq(users.tenantId, tenantId), afterId ? gt(users.id, afterId) : undefined))
      .orderBy(asc(users.id))
      .limit(limit);
  },
};

export type { Role };
