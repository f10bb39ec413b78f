import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

let t: TestApp;
let victim: TenantFixture;
let intruder: TenantFixture;
let ids: { item: string; order: string; payment: string };

/** Everything of the victim that an intruder's request could change. */
async function victimState() {
  const token = victim.token;
  const [item, stock, order, payment, orders] = await Promise.all([
    t.api.get(`/api/v1/restaurant/menu-items/${ids.item}`, { token }),
    t.api.get(`/api/v1/inventory/items/${ids.item}`, { token }),
    t.api.get(`/api/v1/orders/${ids.order}`, { token }),
    t.api.get(`/api/v1/payments/${ids.payment}`, { token }),
    t.api.get('/api/v1/orders?limit=100', { token }),
  ]);
  return { item: item.body, stock: stock.body, order: order.body, payment: payment.body, orders: orders.body.items.length };
}

beforeAll(async () => {
  t = await startTestApp();
  victim = await signup(t.api);
  intruder = await signup(t.api);
  const item = await menuItem(t.api, victim.token, { sku: 'VICTIM-1', price: 900 });
  await setStock(t.api, victim.token, item.id, 7);
  const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 1000 } }, { token: victim.token });
  ids = { item: item.id, order: order.body.id, payment: order.body.payment.id };
});
afterAll(() => t?.close());

describe("another tenant's ids are 404 on every route, and nothing changes", () => {
  const routes: Array<[string, string, () => string, unknown?]> = [
    ['GET', 'menu item', () => `/api/v1/restaurant/menu-items/${ids.item}`],
    ['PATCH', 'menu item', () => `/api/v1/restaurant/menu-items/${ids.item}`, { price: 1 }],
    ['DELETE', 'menu item', () => `/api/v1/restaurant/menu-items/${ids.item}`],
    ['PUT', 'stock', () => `/api/v1/inventory/items/${ids.item}`, { onHand: 999 }],
    ['POST', 'stock adjustment', () => `/api/v1/inventory/items/${ids.item}/adjustments`, { delta: -7, reason: 'waste' }],
    ['GET', 'stock', () => `/api/v1/inventory/items/${ids.item}`],
    ['GET', 'order', () => `/api/v1/orders/${ids.order}`],
    ['POST', 'order cancel', () => `/api/v1/orders/${ids.order}/cancel`],
    ['GET', 'payment', () => `/api/v1/payments/${ids.payment}`],
  ];

  it.each(routes)('%s %s', async (method, _what, path, body) => {
    const before = await victimState();
    const res = await t.api.call(method, path(), body, { token: intruder.token });
    expectProblem(res, 404);
    expect(await victimState()).toEqual(before);
  });

  it("lists never show another tenant's rows", async () => {
    for (const path of ['/api/v1/restaurant/menu-items', '/api/v1/inventory/items', '/api/v1/orders', '/api/v1/payments', `/api/v1/payments?orderId=${ids.order}`]) {
      const res = await t.api.get(path, { token: intruder.token });
      expect(res.status, path).toBe(200);
      expect(res.body.items, path).toEqual([]);
    }
  });

  it("ordering another tenant's menu item is a 422 unknown item, and its stock is untouched", async () => {
    const before = await victimState();
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: ids.item, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }, { token: intruder.token });
    expectProblem(res, 422, 'unknown-menu-item');
    expect(await victimState()).toEqual(before);
  });

  it('a SKU taken in one tenant is free in another', async () => {
    const res = await t.api.post('/api/v1/restaurant/menu-items', { name: 'Mine', sku: 'VICTIM-1', price: 100 }, { token: intruder.token });
    expect(res.status).toBe(201);
  });
});

describe('x-tenant-id must match the token', () => {
  it('a different tenant id is a 403 and changes nothing', async () => {
    const before = await victimState();
    const headers = { 'x-tenant-id': intruder.tenant.id };
    expectProblem(await t.api.get(`/api/v1/orders/${ids.order}`, { token: victim.token, headers }), 403);
    expectProblem(await t.api.post(`/api/v1/orders/${ids.order}/cancel`, undefined, { token: victim.token, headers }), 403);
    expectProblem(await t.api.put(`/api/v1/inventory/items/${ids.item}`, { onHand: 1 }, { token: victim.token, headers }), 403);
    expect(await victimState()).toEqual(before);
  });

  it('the matching tenant id is accepted', async () => {
    const res = await t.api.get(`/api/v1/orders/${ids.order}`, { token: victim.token, headers: { 'x-tenant-id': victim.tenant.id } });
    expect(res.status).toBe(200);
  });
});
