import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, menuItem, signup } from './support/fixtures.ts';
import { pgbouncerAvailable, startPgBouncer, type PgBouncer } from './support/pgbouncer.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

/**
 * The app behind PgBouncer in transaction pooling mode, with `DATABASE_DIRECT_URL` for what needs
 * a session (LISTEN, the migrations' advisory lock): a real `pgbouncer` process of the test's own.
 */
const MENU = '/api/v1/restaurant/menu-items';
const prices = (res: { body: { items: Array<{ name: string; price: number }> } }) => Object.fromEntries(res.body.items.map((i) => [i.name, i.price]));
const MIGRATION_LOCK_KEY = 7_300_001; // shared/database.ts

const available = pgbouncerAvailable();
if (onRealPostgres() && !available) {
  console.warn('test/pgbouncer.test.ts skipped: no `pgbouncer` binary (apt-get install -y pgbouncer; CI installs it)');
}

describe.skipIf(!onRealPostgres() || !available)('behind PgBouncer in transaction mode, with DATABASE_DIRECT_URL', () => {
  let direct: TestDatabase;
  let bouncer: PgBouncer;
  let pooled: TestDatabase;
  let sql: postgres.Sql;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    direct = await createTestDatabase();
    const directUrl = (direct.config as { url: string }).url;
    // Few server connections, so that pooled clients really share them.
    bouncer = await startPgBouncer(directUrl, { poolSize: 3 });
    pooled = { ...direct, config: { kind: 'postgres', url: bouncer.url(directUrl), poolMax: 10, directUrl } };
    sql = postgres(directUrl, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    for (const app of apps.reverse()) await app.close().catch(() => {});
    await sql?.end({ timeout: 1 });
    await bouncer?.stop();
    await direct?.drop();
  });

  it('two instances starting together both migrate; a third start does not hang; no lock is left behind', async () => {
    const started = await Promise.all([startTestApp({ database: pooled }), startTestApp({ database: pooled })]);
    apps.push(...started);
    const third = await Promise.race([
      startTestApp({ database: pooled }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`third start hung\n${bouncer.log()}`)), 20_000)),
    ]);
    apps.push(third);
    // pg_locks is cluster-wide: count only this database's (other test files migrate their own meanwhile).
    const locks = await sql`select count(*)::int as n from pg_locks where locktype = 'advisory' and objid = ${MIGRATION_LOCK_KEY} and database = (select oid from pg_database where datname = current_database())`;
    expect(locks[0]!.n).toBe(0);
    for (const app of apps) expect((await app.api.get('/ready')).status).toBe(200);
  }, 60_000);

  it('a menu write on one instance is seen at once by another instance\'s cached menu; events flow', async () => {
    const [a, b] = apps as [TestApp, TestApp];
    const owner = await signup(a.api);
    const item = await menuItem(a.api, owner.token, { name: 'Ramen', price: 1300 });
    expect(prices(await b.api.get(MENU, { token: owner.token }))).toEqual({ Ramen: 1300 });
    // B really caches (a change behind the API is not seen)…
    await sql`update restaurant.menu_items set price = 1301 where id = ${item.id}`;
    expect(prices(await b.api.get(MENU, { token: owner.token }))).toEqual({ Ramen: 1300 });
    // …and A's write reaches it by NOTIFY, not after the 60 s TTL.
    expect((await a.api.patch(`${MENU}/${item.id}`, { price: 1400 }, { token: owner.token })).status).toBe(200);
    const wrote = Date.now();
    await eventually(async () => expect(prices(await b.api.get(MENU, { token: owner.token }))).toEqual({ Ramen: 1400 }), 2000, 10);
    console.log(`pgbouncer: menu write on A seen on B after ${Date.now() - wrote} ms`);

    // The job queue (pg-boss: transaction-scoped advisory locks only, LISTEN off) works through the pooler.
    const order = await a.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'cash', tendered: 10_000 } }, { token: owner.token });
    expect(order.status).toBe(201);
    await eventually(async () => expect((await b.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals.gross).toBe(order.body.total), 10_000, 100);
  }, 30_000);

  it('when LISTEN cannot work (direct URL pointing at the pooler too), the cache keeps nothing rather than serve stale pages', async () => {
    const misconfigured = await startTestApp({ database: { ...pooled, config: { ...pooled.config, directUrl: (pooled.config as { url: string }).url } } as TestDatabase });
    apps.push(misconfigured);
    const owner = await signup(misconfigured.api);
    const item = await menuItem(misconfigured.api, owner.token, { name: 'Pho', price: 1000 });
    expect(prices(await misconfigured.api.get(MENU, { token: owner.token }))).toEqual({ Pho: 1000 });
    await sql`update restaurant.menu_items set price = 1001 where id = ${item.id}`;
    expect(prices(await misconfigured.api.get(MENU, { token: owner.token }))).toEqual({ Pho: 1001 });
  }, 30_000);
});
