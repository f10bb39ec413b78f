import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectProblem, menuItem, onHand, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';
import { onRealPostgres } from './support/test-database.ts';

/**
 * Bad input that PostgreSQL would refuse (NUL in text, int4 overflow, year 0, unknown time
 * zones), strict bodies and decimal-only integer query parameters: each is a clear 4xx problem
 * that names the field, and changes nothing. Checked over real HTTP on the test database.
 */
let t: TestApp;
let db: postgres.Sql;
let owner: TenantFixture;
const NUL = '\u0000';

/** A fingerprint of every business table: equal fingerprints = nothing changed. */
async function fingerprint(): Promise<string> {
  const tables = ['auth.tenants', 'auth.users', 'auth.refresh_tokens', 'restaurant.menu_items', 'inventory.stock_levels', 'inventory.stock_movements', 'orders.orders', 'orders.order_lines', 'payments.payments'];
  const rows = await db.unsafe(tables.map((tb) => `select '${tb}' as t, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from ${tb} x`).join(' union all '));
  return rows.map((r) => `${r.t}:${r.h}`).join('|');
}

/** Asserts a 400 validation problem naming exactly `paths`, and that no table changed. */
async function expectRejected(request: () => Promise<{ status: number; headers: Headers; body: any }>, paths: string[]) {
  const before = await fingerprint();
  const res = await request();
  expectProblem(res, 400, 'validation-error');
  expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(paths);
  expect(await fingerprint()).toBe(before);
  return res;
}

beforeAll(async () => {
  t = await startTestApp({
    build: {
      // A route that sends PostgreSQL a value it refuses: the error handler's backstop answers it.
      beforeReady: (app) => {
        app.get('/test/data-exception', () => app.database.db.execute(sql`select ${'12345678901'}::int4 as n`));
      },
    },
  });
  if (onRealPostgres()) db = postgres((t.db.config as { url: string }).url, { max: 1, onnotice: () => {} });
  owner = await signup(t.api);
});
afterAll(async () => {
  await db?.end();
  await t?.close();
});

describe.runIf(onRealPostgres())('NUL (\\u0000) in a string is a 400 naming the field', () => {
  it('in login, signup, refresh and staff bodies', async () => {
    await expectRejected(() => t.api.post('/api/v1/auth/login', { tenant: `a${NUL}b`, email: 'x@example.com', password: 'whatever1' }), ['body.tenant']);
    await expectRejected(() => t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: `x${NUL}@example.com`, password: 'whatever1' }), ['body.email']);
    await expectRejected(() => t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: owner.user.email, password: `${owner.password}${NUL}` }), ['body.password']);
    await expectRejected(
      () => t.api.post('/api/v1/auth/signup', { restaurantName: `Nul${NUL}Bistro`, currency: 'USD', email: 'nul@example.com', password: 'correct horse battery' }),
      ['body.restaurantName'],
    );
    await expectRejected(
      () => t.api.post('/api/v1/auth/signup', { restaurantName: 'Nul Bistro', currency: 'USD', email: 'nul@example.com', password: `correct horse${NUL}battery` }),
      ['body.password'],
    );
    await expectRejected(() => t.api.post('/api/v1/auth/refresh', { refreshToken: `${owner.tenant.id}.${NUL}` }), ['body.refreshToken']);
    await expectRejected(() => t.api.post('/api/v1/auth/users', { email: 'c@example.com', password: `pass${NUL}word`, role: 'cashier' }, { token: owner.token }), ['body.password']);
  });

  it('in menu fields and the ?category= filter', async () => {
    const dish = await menuItem(t.api, owner.token);
    const menu = '/api/v1/restaurant/menu-items';
    await expectRejected(() => t.api.post(menu, { name: `Pi${NUL}zza`, price: 100 }, { token: owner.token }), ['body.name']);
    await expectRejected(() => t.api.post(menu, { name: 'Pizza', sku: `S${NUL}`, price: 100 }, { token: owner.token }), ['body.sku']);
    await expectRejected(() => t.api.post(menu, { name: 'Pizza', category: NUL, price: 100 }, { token: owner.token }), ['body.category']);
    await expectRejected(() => t.api.patch(`${menu}/${dish.id}`, { name: `x${NUL}` }, { token: owner.token }), ['body.name']);
    await expectRejected(() => t.api.get(`${menu}?category=${encodeURIComponent(`a${NUL}`)}`, { token: owner.token }), ['querystring.category']);
  });

  it('in an order note and a card token', async () => {
    const dish = await menuItem(t.api, owner.token);
    const items = [{ menuItemId: dish.id, quantity: 1 }];
    await expectRejected(() => t.api.post('/api/v1/orders', { items, payment: { method: 'cash', tendered: 5000 }, note: `no${NUL}onions` }, { token: owner.token }), ['body.note']);
    await expectRejected(() => t.api.post('/api/v1/orders', { items, payment: { method: 'card', token: `tok_visa${NUL}` } }, { token: owner.token }), ['body.payment.token']);
  });
});

describe.runIf(onRealPostgres())('dates PostgreSQL cannot store are a 400', () => {
  it.each([
    ['/api/v1/orders?from=0000-01-01T00:00:00Z', 'querystring.from'],
    ['/api/v1/orders?to=0001-01-01T00:00:00%2B14:00', 'querystring.to'],
    ['/api/v1/reports/sales?from=0000-06-01T00:00:00Z&to=2020-06-02T00:00:00Z', 'querystring.from'],
    ['/api/v1/reports/sales?to=0001-01-05T00:00:00Z', 'querystring.to'],
    ['/api/v1/reports/top-items?to=9999-12-31T23:00:00-14:00', 'querystring.to'],
    ['/api/v1/reports/payment-mix?from=0000-12-31T00:00:00Z', 'querystring.from'],
  ])('GET %s', async (url, path) => {
    await expectRejected(() => t.api.get(url, { token: owner.token }), [path]);
  });

  it('still accepts ordinary periods', async () => {
    expect((await t.api.get('/api/v1/orders?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00%2B02:00', { token: owner.token })).status).toBe(200);
  });
});

describe.runIf(onRealPostgres())('time zones', () => {
  it('refuses at signup a zone that Intl knows but PostgreSQL does not (US/Pacific-New), and creates nothing', async () => {
    await expectRejected(
      () => t.api.post('/api/v1/auth/signup', { restaurantName: 'Pacific New', currency: 'USD', email: 'pn@example.com', password: 'correct horse battery', timeZone: 'US/Pacific-New' }),
      ['body.timeZone'],
    );
    const ok = await signup(t.api, { timeZone: 'America/Los_Angeles' });
    expect(ok.tenant).toMatchObject({ timeZone: 'America/Los_Angeles' });
    const offset = await signup(t.api, { timeZone: '-03:00' });
    expect(offset.tenant).toMatchObject({ timeZone: '-03:00' });
  });

  it('reports of a tenant already stored with an unknown zone fall back to UTC instead of failing', async () => {
    const legacy = await signup(t.api);
    await db`update auth.tenants set time_zone = 'US/Pacific-New' where id = ${legacy.tenant.id}`;
    const res = await t.api.get('/api/v1/reports/sales', { token: legacy.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.timeZone).toBe('UTC');
    expect((await t.api.get('/api/v1/reports/sales?groupBy=hour', { token: legacy.token })).status).toBe(200);
  });

  it('puts an order paid at 01:00 UTC on the previous local day for a -03:00 tenant', async () => {
    const west = await signup(t.api, { timeZone: '-03:00' });
    const dish = await menuItem(t.api, west.token, { price: 1000 });
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: dish.id, quantity: 1 }], payment: { method: 'cash', tendered: 1000 } }, { token: west.token });
    expect(order.status).toBe(201);
    // Move the order's fact to 01:00 UTC on 10 March 2024 (22:00 on the 9th in -03:00).
    await eventually(async () => expect((await db`select 1 from reporting.order_facts where order_id = ${order.body.id}`).length).toBe(1));
    await db`update reporting.order_facts set paid_at = '2024-03-10T01:00:00Z' where order_id = ${order.body.id}`;
    const res = await t.api.get('/api/v1/reports/sales?from=2024-03-08T00:00:00Z&to=2024-03-12T00:00:00Z', { token: west.token });
    expect(res.status).toBe(200);
    expect(res.body.buckets).toEqual([expect.objectContaining({ start: '2024-03-09T03:00:00.000Z', orders: 1 })]);
    const hours = await t.api.get('/api/v1/reports/sales?groupBy=hour&from=2024-03-08T00:00:00Z&to=2024-03-12T00:00:00Z', { token: west.token });
    expect(hours.body.buckets).toEqual([expect.objectContaining({ start: '2024-03-10T01:00:00.000Z', orders: 1 })]);
  });
});

describe.runIf(onRealPostgres())('stock stays within its column', () => {
  const adjust = (id: string, delta: number) => t.api.post(`/api/v1/inventory/items/${id}/adjustments`, { delta, reason: 'delivery' }, { token: owner.token });

  it('refuses an adjustment past the stock limit with a 409, and changes nothing', async () => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 1_000_000);
    const before = await fingerprint();
    expectProblem(await adjust(dish.id, 1), 409, 'stock-limit-exceeded');
    expect(await fingerprint()).toBe(before);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(1_000_000);
  });

  it('answers a 409 (not a 500) for stock already stored near the int4 maximum', async () => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 1);
    await db`update inventory.stock_levels set on_hand = 2147483000 where menu_item_id = ${dish.id}`;
    const before = await fingerprint();
    expectProblem(await adjust(dish.id, 1_000_000), 409, 'stock-limit-exceeded');
    expect(await fingerprint()).toBe(before);
  });

  it('still cancels an order whose restock would pass the int4 maximum', async () => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 10);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: dish.id, quantity: 5 }], payment: { method: 'cash', tendered: 100_000 } }, { token: owner.token });
    expect(order.status).toBe(201);
    await db`update inventory.stock_levels set on_hand = 2147483645 where menu_item_id = ${dish.id}`;
    const res = await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe('cancelled');
    expect(await onHand(t.api, owner.token, dish.id)).toBe(2147483647);
  });
});

describe.runIf(onRealPostgres())('a cancellation restores only what the order took, in the movement log', () => {
  const place = (items: Array<{ menuItemId: string; quantity: number }>) =>
    t.api.post('/api/v1/orders', { items, payment: { method: 'cash', tendered: 1_000_000 } }, { token: owner.token });

  it('gives nothing back for an item that was not tracked when it was sold', async () => {
    const dish = await menuItem(t.api, owner.token);
    const order = await place([{ menuItemId: dish.id, quantity: 3 }]);
    expect(order.status).toBe(201);
    await setStock(t.api, owner.token, dish.id, 10); // tracking starts after the sale
    expect((await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token })).status).toBe(200);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(10);
  });

  it('records the sale and the cancellation restock as movements of the order', async () => {
    const tracked = await menuItem(t.api, owner.token);
    const untracked = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, tracked.id, 10);
    const order = await place([
      { menuItemId: tracked.id, quantity: 2 },
      { menuItemId: untracked.id, quantity: 1 },
      { menuItemId: tracked.id, quantity: 1 },
    ]);
    expect(order.status).toBe(201);
    expect(await onHand(t.api, owner.token, tracked.id)).toBe(7);
    const movements = () =>
      db`select menu_item_id, delta, reason, on_hand_after from inventory.stock_movements where order_id = ${order.body.id} order by reason desc, menu_item_id`;
    expect(await movements()).toEqual([{ menu_item_id: tracked.id, delta: -3, reason: 'sale', on_hand_after: 7 }]);
    await t.api.post(`/api/v1/inventory/items/${tracked.id}/adjustments`, { delta: -7, reason: 'waste' }, { token: owner.token });
    expect((await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token })).status).toBe(200);
    expect(await onHand(t.api, owner.token, tracked.id)).toBe(3);
    expect(await movements()).toEqual([
      { menu_item_id: tracked.id, delta: -3, reason: 'sale', on_hand_after: 7 },
      { menu_item_id: tracked.id, delta: 3, reason: 'cancellation', on_hand_after: 3 },
    ]);
  });
});

describe('integer query parameters and unknown body fields', () => {
  it.each(['0x10', '1e2', '+5', ' 5', '5.0', '1_0', ''])('limit=%j is a 400', async (limit) => {
    for (const path of ['/api/v1/restaurant/menu-items', '/api/v1/orders', '/api/v1/reports/top-items']) {
      const res = await t.api.get(`${path}?limit=${encodeURIComponent(limit)}`, { token: owner.token });
      expectProblem(res, 400, 'validation-error');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['querystring.limit']);
    }
    expect((await t.api.get('/api/v1/orders?limit=016', { token: owner.token })).status).toBe(200);
  });

  it.runIf(onRealPostgres())('an unknown body field is a 400 naming it, at any depth', async () => {
    const dish = await menuItem(t.api, owner.token);
    await expectRejected(() => t.api.post('/api/v1/restaurant/menu-items', { name: 'Soup', price: 100, colour: 'red' }, { token: owner.token }), ['body.colour']);
    await expectRejected(() => t.api.patch(`/api/v1/restaurant/menu-items/${dish.id}`, { prcie: 100 }, { token: owner.token }), ['body.prcie']);
    await expectRejected(
      () =>
        t.api.post(
          '/api/v1/orders',
          { items: [{ menuItemId: dish.id, quantity: 1, discount: 100 }], payment: { method: 'cash', tendered: 5000, tip: 1 } },
          { token: owner.token },
        ),
      ['body.items.0.discount', 'body.payment.tip'],
    );
    await expectRejected(() => t.api.put(`/api/v1/inventory/items/${dish.id}`, { onHand: 1, threshold: 2 }, { token: owner.token }), ['body.threshold']);
    await expectRejected(
      () => t.api.post('/api/v1/auth/signup', { restaurantName: 'X', currency: 'USD', email: 'x@example.com', password: 'correct horse battery', role: 'admin' }),
      ['body.role'],
    );
  });
});

describe('data exceptions from PostgreSQL (backstop)', () => {
  it('answer a 422 problem, not a 500', async () => {
    const res = await t.api.get('/test/data-exception');
    expectProblem(res, 422, 'invalid-value');
    expect(JSON.stringify(res.body)).not.toMatch(/int4|integer|select/i);
  });
});
