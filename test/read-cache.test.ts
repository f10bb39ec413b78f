import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, menuItem, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, startTwoInstances, type TwoInstances, type TestApp } from './support/test-app.ts';
import { onRealPostgres } from './support/test-database.ts';

/**
 * The menu read cache (shared/read-cache.ts, used by GET /restaurant/menu-items): it really
 * caches, every write through the API is visible at once, on the instance that wrote and (via
 * NOTIFY) on the others, tenants never share entries, and ETags give 304s.
 */
const MENU = '/api/v1/restaurant/menu-items';
/**
 * Waits until the app's read cache serves hits. It caches only once its LISTEN connection proved
 * that notifications arrive: within 5 s of the start as a rule, later on a loaded machine (CI saw
 * one start where the proof came after the first reads). Warms up with a tenant of its own.
 */
async function untilCaching(app: TestApp) {
  const hits = () => Object.values(app.app.readCacheStats()).reduce((sum, s) => sum + s.hits, 0);
  const warmUp = await signup(app.api);
  await eventually(async () => {
    const before = hits();
    await app.api.get(MENU, { token: warmUp.token });
    await app.api.get(MENU, { token: warmUp.token });
    expect(hits()).toBeGreaterThan(before);
  }, 30_000, 200);
}

const prices = (res: { body: { items: Array<{ name: string; price: number }> } }) => Object.fromEntries(res.body.items.map((i) => [i.name, i.price]));

describe('menu read cache on one instance', () => {
  let t: TestApp;
  let a: TenantFixture;
  let b: TenantFixture;
  beforeAll(async () => {
    t = await startTestApp();
    a = await signup(t.api);
    b = await signup(t.api);
    await untilCaching(t);
  });
  afterAll(() => t?.close());

  it('serves repeated reads from memory: a change made behind the API is not seen until a write invalidates', async () => {
    const item = await menuItem(t.api, a.token, { name: 'Soup', price: 450 });
    // Cached once a read completes with no invalidation arriving meanwhile: the write's own
    // NOTIFY can come back during the first read (seen on a loaded machine), which then is not kept.
    const hits = () => t.app.readCacheStats()['restaurant.menu-pages']!.hits;
    await eventually(async () => {
      expect(prices(await t.api.get(MENU, { token: a.token }))).toEqual({ Soup: 450 });
      const before = hits();
      expect(prices(await t.api.get(MENU, { token: a.token }))).toEqual({ Soup: 450 });
      expect(hits()).toBeGreaterThan(before);
    }, 10_000, 50);
    // Straight into the table, as a superuser: no invalidation, so the cached page stays.
    await t.app.database.db.execute(sql`update restaurant.menu_items set price = 999 where id = ${item.id}`);
    expect(prices(await t.api.get(MENU, { token: a.token }))).toEqual({ Soup: 450 });
    // Any write through the API drops the tenant's pages: the next read sees the table again.
    await menuItem(t.api, a.token, { name: 'Bread', price: 150 });
    expect(prices(await t.api.get(MENU, { token: a.token }))).toEqual({ Soup: 999, Bread: 150 });
  });

  it('every kind of menu write is visible to the next read', async () => {
    const owner = await signup(t.api);
    const read = async () => prices(await t.api.get(MENU, { token: owner.token }));
    const tea = await menuItem(t.api, owner.token, { name: 'Tea', price: 300 });
    expect(await read()).toEqual({ Tea: 300 });
    expect((await t.api.patch(`${MENU}/${tea.id}`, { price: 320 }, { token: owner.token })).status).toBe(200);
    expect(await read()).toEqual({ Tea: 320 });
    const cake = await menuItem(t.api, owner.token, { name: 'Cake', price: 500 });
    expect(await read()).toEqual({ Tea: 320, Cake: 500 });
    expect((await t.api.delete(`${MENU}/${cake.id}`, { token: owner.token })).status).toBe(204);
    expect(await read()).toEqual({ Tea: 320 });
    // A failed write (validation) changes nothing and the cached page is still right.
    expect((await t.api.patch(`${MENU}/${tea.id}`, { price: -1 }, { token: owner.token })).status).toBe(400);
    expect(await read()).toEqual({ Tea: 320 });
  });

  it('pages are per tenant, and per query (category, limit, cursor)', async () => {
    await menuItem(t.api, b.token, { name: 'Juice', price: 350, category: 'drinks' });
    await menuItem(t.api, b.token, { name: 'Stew', price: 1250, category: 'mains' });
    expect(prices(await t.api.get(MENU, { token: b.token }))).toEqual({ Juice: 350, Stew: 1250 });
    expect(prices(await t.api.get(`${MENU}?category=drinks`, { token: b.token }))).toEqual({ Juice: 350 });
    expect((await t.api.get(`${MENU}?limit=1`, { token: b.token })).body.items).toHaveLength(1);
    // Tenant A's cached pages never show B's items, nor the other way round.
    expect(Object.keys(prices(await t.api.get(MENU, { token: a.token })))).not.toContain('Juice');
    expect(Object.keys(prices(await t.api.get(MENU, { token: b.token })))).not.toContain('Soup');
  });

  it('sends an ETag; If-None-Match with it answers 304 until the menu changes', async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token, { name: 'Pie', price: 600 });
    const first = await t.api.get(MENU, { token: owner.token });
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect(first.headers.get('cache-control')).toBe('private, no-cache');
    const again = await t.api.get(MENU, { token: owner.token, headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
    await t.api.patch(`${MENU}/${item.id}`, { price: 650 }, { token: owner.token });
    const changed = await t.api.get(MENU, { token: owner.token, headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(prices(changed)).toEqual({ Pie: 650 });
    expect(changed.headers.get('etag')).not.toBe(etag);
  });
});

describe.skipIf(!onRealPostgres())('menu read cache across instances (LISTEN/NOTIFY)', () => {
  let instances: TwoInstances;
  let writer: TestApp;
  let reader: TestApp;
  beforeAll(async () => {
    instances = await startTwoInstances();
    ({ a: writer, b: reader } = instances);
  });
  afterAll(async () => {
    await instances?.close();
  });

  it('a write on one instance drops the page cached on the other within moments, not after the TTL', async () => {
    const owner = await signup(writer.api);
    const item = await menuItem(writer.api, owner.token, { name: 'Curry', price: 1100 });
    expect(prices(await reader.api.get(MENU, { token: owner.token }))).toEqual({ Curry: 1100 }); // now cached on the reader
    expect((await writer.api.patch(`${MENU}/${item.id}`, { price: 1200 }, { token: owner.token })).status).toBe(200);
    const started = Date.now();
    await eventually(async () => expect(prices(await reader.api.get(MENU, { token: owner.token }))).toEqual({ Curry: 1200 }), 2000, 10);
    expect(Date.now() - started).toBeLessThan(2000); // the TTL is 60 s: this was the notification
    await writer.api.delete(`${MENU}/${item.id}`, { token: owner.token });
    await eventually(async () => expect(prices(await reader.api.get(MENU, { token: owner.token }))).toEqual({}), 2000, 10);
  });
});

describe.skipIf(!onRealPostgres())('menu read cache while its LISTEN connection is down', () => {
  let t: TestApp;
  let admin: postgres.Sql;
  let server: postgres.Sql; // on the server's own database: a database cannot close itself to connections
  beforeAll(async () => {
    t = await startTestApp();
    await untilCaching(t);
    admin = postgres((t.db.config as { url: string }).url, { max: 1, onnotice: () => {} });
    server = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await server?.unsafe(`alter database ${await dbName()} allow_connections true`).catch(() => {});
    await server?.end({ timeout: 1 });
    await admin?.end({ timeout: 1 });
    await t?.close();
  });
  const dbName = async () => (await admin`select current_database() as name`)[0]!.name as string;
  const listeners = async () => (await admin`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%'`).map((r) => r.pid as number);

  it('drops cached pages the moment the listener is lost, reads from the database until it is back, then caches again', async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token, { name: 'Stew', price: 450 });
    const read = async () => prices(await t.api.get(MENU, { token: owner.token }));
    const setPrice = (price: number) => admin`update restaurant.menu_items set price = ${price} where id = ${item.id}`;
    expect(await read()).toEqual({ Stew: 450 }); // cached
    expect(await listeners()).toHaveLength(1);

    // Keep the listener from coming back (existing connections stay), then kill it.
    const name = await dbName();
    await server.unsafe(`alter database ${name} allow_connections false`);
    try {
      const [pid] = await listeners();
      await admin`select pg_terminate_backend(${pid!})`;
      await eventually(async () => expect(await listeners()).toHaveLength(0), 5000, 10);

      // Changed behind the API during the gap: no NOTIFY reaches anyone. (The backend leaves
      // pg_stat_activity a moment before its socket closes: allow the app that moment.)
      await setPrice(999);
      const changedAt = Date.now();
      await eventually(async () => expect(await read()).toEqual({ Stew: 999 }), 2000, 5);
      console.log(`read cache: change made while the listener was down seen ${Date.now() - changedAt} ms later`);
      await setPrice(1000);
      expect(await read()).toEqual({ Stew: 1000 }); // not cached while the listener is down
    } finally {
      await server.unsafe(`alter database ${name} allow_connections true`);
    }

    // Back within a couple of seconds, and caching again.
    const lostAt = Date.now();
    await eventually(async () => expect(await listeners()).toHaveLength(1), 5000, 50);
    console.log(`read cache: LISTEN back ${Date.now() - lostAt} ms after connections were allowed again`);
    await eventually(async () => {
      expect(await read()).toEqual({ Stew: 1000 });
      await setPrice(1100);
      expect(await read()).toEqual({ Stew: 1000 }); // served from the cache again
    }, 3000, 50);
  });
});
