import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows, sqlState } from '../shared/database.ts';
import { TENANT_ROLE } from '../shared/unit-of-work.ts';
import { menuItem, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * Row-level security is checked as the tenant role itself (a superuser would bypass it), on
 * whatever database the suite runs on: the local PostgreSQL in CI, PGlite otherwise.
 */
let t: TestApp;
let a: TenantFixture;
let b: TenantFixture;
let itemOfB: string;

/**
 * The database holding `table`: the app's, except the payments table when the suite runs with
 * payments as their own service (TEST_PAYMENTS_WIRING=remote): then the service's, where RLS
 * must hold just the same.
 */
const dbFor = (table: string) => (table.startsWith('payments.') && t.paymentsService ? t.paymentsService.app : t.app).database.db;

/** Runs `work` in a transaction as the tenant role, with `tenantId` set (or none), on the database of `table`. */
async function asTenantRole<T>(tenantId: string | null, work: (run: <R>(q: ReturnType<typeof sql>) => Promise<R[]>) => Promise<T>, table = 'auth.users'): Promise<T> {
  return dbFor(table).transaction(async (tx) => {
    await tx.execute(sql`select set_config('role', ${TENANT_ROLE}, true)`);
    if (tenantId) await tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`);
    return work((q) => queryRows(tx, q));
  });
}

const TENANT_TABLES = [
  'auth.users',
  'restaurant.menu_items',
  'inventory.stock_levels',
  'inventory.stock_movements',
  'payments.payments',
  'orders.orders',
  'orders.order_lines',
  'orders.order_counters',
  'kernel.idempotency_keys',
];

beforeAll(async () => {
  t = await startTestApp();
  a = await signup(t.api);
  b = await signup(t.api);
  for (const owner of [a, b]) {
    const item = await menuItem(t.api, owner.token, { price: 700 });
    await setStock(t.api, owner.token, item.id, 5);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 1000 } }, { token: owner.token, headers: { 'idempotency-key': `rls-${owner.tenant.id}` } });
    expect(order.status).toBe(201);
    if (owner === b) itemOfB = item.id;
  }
});
afterAll(() => t?.close());

describe('row-level security, as the tenant role', () => {
  it('the tenant role is neither a superuser nor allowed to bypass RLS', async () => {
    const [role] = await queryRows<{ rolsuper: boolean; rolbypassrls: boolean }>(t.app.database.db, sql`select rolsuper, rolbypassrls from pg_roles where rolname = ${TENANT_ROLE}`);
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false });
  });

  it('every table with a tenant_id has RLS enabled and forced, with a tenant policy', async () => {
    const tables = await queryRows<{ tbl: string; enabled: boolean; forced: boolean; policies: number }>(
      t.app.database.db,
      sql`select n.nspname || '.' || c.relname as tbl, c.relrowsecurity as enabled, c.relforcerowsecurity as forced,
                 (select count(*)::int from pg_policy p where p.polrelid = c.oid) as policies
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute att on att.attrelid = c.oid and att.attname = 'tenant_id' and not att.attisdropped
          where c.relkind in ('r', 'p') and n.nspname not in ('pgboss', 'drizzle', 'public') and n.nspname not like 'pg\\_%'
          order by 1`,
    );
    expect(tables.map((r) => r.tbl)).toEqual(expect.arrayContaining(TENANT_TABLES));
    for (const table of tables) expect(table, table.tbl).toMatchObject({ enabled: true, forced: true, policies: 1 });
  });

  it('with no tenant set, every tenant table returns no rows (though rows exist)', async () => {
    for (const table of TENANT_TABLES) {
      const [all] = await queryRows<{ n: number }>(dbFor(table), sql.raw(`select count(*)::int as n from ${table}`));
      expect(all!.n, `${table} has rows for the owner`).toBeGreaterThan(0);
      const rows = await asTenantRole(null, (run) => run<{ n: number }>(sql.raw(`select count(*)::int as n from ${table}`)), table);
      expect(rows[0]!.n, table).toBe(0);
    }
  });

  it("with tenant A set, none of B's rows are visible, even to a query that asks for them", async () => {
    for (const table of TENANT_TABLES) {
      const rows = await asTenantRole(a.tenant.id, (run) => run<{ mine: number; theirs: number }>(
        sql.raw(`select count(*) filter (where tenant_id = '${a.tenant.id}')::int as mine, count(*) filter (where tenant_id = '${b.tenant.id}')::int as theirs from ${table}`),
      ), table);
      expect(rows[0]!.theirs, table).toBe(0);
      expect(rows[0]!.mine, table).toBeGreaterThan(0);
    }
    // The tenant directory shows only the tenant itself.
    const tenants = await asTenantRole(a.tenant.id, (run) => run<{ id: string }>(sql`select id from auth.tenants`));
    expect(tenants.map((r) => r.id)).toEqual([a.tenant.id]);
  });

  it("an insert or update with B's tenant_id fails while A is set", async () => {
    const insert = asTenantRole(a.tenant.id, (run) =>
      run(sql`insert into restaurant.menu_items (tenant_id, id, name, price, currency) values (${b.tenant.id}, gen_random_uuid(), 'Planted', 1, 'USD')`),
    );
    await expect(insert).rejects.toSatisfy((e: unknown) => sqlState(e) === '42501');
    const moved = asTenantRole(a.tenant.id, (run) => run(sql`update restaurant.menu_items set tenant_id = ${b.tenant.id} returning id`));
    await expect(moved).rejects.toSatisfy((e: unknown) => sqlState(e) === '42501');
  });

  it('a bug that forgets the tenant filter still cannot reach another tenant (through the app unit of work)', async () => {
    const leaked = await t.app.runInTenant(a.tenant.id, ({ tx }) => queryRows(tx, sql`select id from restaurant.menu_items where id = ${itemOfB}`));
    expect(leaked).toEqual([]);
    const deleted = await t.app.runInTenant(a.tenant.id, ({ tx }) => queryRows(tx, sql`delete from inventory.stock_levels returning menu_item_id`));
    expect(deleted.map((r: any) => r.menu_item_id)).not.toContain(itemOfB);
    const stock = await t.api.get(`/api/v1/inventory/items/${itemOfB}`, { token: b.token });
    expect(stock.body.onHand).toBe(4);
  });
});
