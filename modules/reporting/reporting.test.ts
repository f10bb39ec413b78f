import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, expectProblem, menuItem, signup, staff, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

async function placeOrders(owner: TenantFixture, prices: number[]) {
  const orders = [];
  for (const price of prices) {
    const item = await menuItem(t.api, owner.token, { price });
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: price * 2 } }, { token: owner.token });
    expect(res.status).toBe(201);
    orders.push(res.body);
  }
  return orders;
}

describe('GET /api/v1/reports/sales', () => {
  it('sums paid orders (gross, tax), refunds and net = gross - refunds, for the last 30 days by default', async () => {
    const owner = await signup(t.api, { taxRateBps: 1000 });
    const orders = await placeOrders(owner, [1000, 2000, 3000]);
    await t.api.post(`/api/v1/orders/${orders[0].id}/cancel`, undefined, { token: owner.token });

    const res = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/sales', { token: owner.token });
      // Events reach reporting in no guaranteed order: wait for the sales and the refund.
      expect(r.body.totals.orders).toBe(3);
      expect(r.body.totals.refunds).toBe(1100);
      return r;
    });
    expect(res.status).toBe(200);
    const gross = orders.reduce((s, o) => s + o.total, 0); // 1100 + 2200 + 3300
    expect(gross).toBe(6600);
    expect(res.body.currency).toBe('USD');
    expect(res.body.totals).toEqual({ orders: 3, gross: 6600, tax: 600, refunds: 1100, net: 5500 });
    expect(res.body.buckets).toHaveLength(1);
    expect(res.body.buckets[0]).toMatchObject({ orders: 3, gross: 6600, refunds: 1100, net: 5500 });
    expect(res.body.buckets[0].start).toBe(`${new Date().toISOString().slice(0, 10)}T00:00:00.000Z`);
    expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(30 * 86_400_000);
  });

  it('groups by hour, and only counts the given period', async () => {
    const owner = await signup(t.api);
    await placeOrders(owner, [500]);
    const hour = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/sales?groupBy=hour', { token: owner.token });
      expect(r.body.buckets).toHaveLength(1);
      return r;
    });
    expect(hour.body.buckets).toHaveLength(1);
    expect(hour.body.buckets[0].start).toMatch(/T\d\d:00:00\.000Z$/);
    const past = await t.api.get('/api/v1/reports/sales?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z', { token: owner.token });
    expect(past.body.totals).toEqual({ orders: 0, gross: 0, tax: 0, refunds: 0, net: 0 });
  });

  it("reports in the tenant's time zone", async () => {
    const owner = await signup(t.api, { timeZone: 'Asia/Tokyo' });
    await placeOrders(owner, [700]);
    const res = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/sales', { token: owner.token });
      expect(r.body.buckets).toHaveLength(1);
      return r;
    });
    expect(res.body.timeZone).toBe('Asia/Tokyo');
    // A Tokyo day starts at 15:00 UTC of the previous day.
    expect(res.body.buckets[0].start).toMatch(/T15:00:00\.000Z$/);
  });

  it("never mixes tenants' figures", async () => {
    const a = await signup(t.api);
    const b = await signup(t.api);
    await placeOrders(a, [1000]);
    await eventually(async () => expect((await t.api.get('/api/v1/reports/sales', { token: a.token })).body.totals.orders).toBe(1));
    const res = await t.api.get('/api/v1/reports/sales', { token: b.token });
    expect(res.body.totals.orders).toBe(0);
  });

  it('is for owners and managers (cashier 403) and rejects bad periods (400)', async () => {
    const owner = await signup(t.api);
    const cashier = await staff(t.api, owner, 'cashier');
    const manager = await staff(t.api, owner, 'manager');
    expectProblem(await t.api.get('/api/v1/reports/sales', { token: cashier }), 403);
    expect((await t.api.get('/api/v1/reports/sales', { token: manager })).status).toBe(200);
    expectProblem(await t.api.get('/api/v1/reports/sales?groupBy=week', { token: owner.token }), 400);
    expectProblem(await t.api.get('/api/v1/reports/sales?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', { token: owner.token }), 400);
    expectProblem(await t.api.get('/api/v1/reports/sales?from=2020-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', { token: owner.token }), 400);
  });
});

describe('GET /api/v1/reports/top-items, /payment-mix, /low-stock', () => {
  it('ranks items by units sold in paid, not cancelled, orders', async () => {
    const owner = await signup(t.api);
    const pizza = await menuItem(t.api, owner.token, { name: 'Pizza', price: 1200 });
    const salad = await menuItem(t.api, owner.token, { name: 'Salad', price: 800 });
    const pay = { method: 'cash', tendered: 100_000 };
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: pizza.id, quantity: 2 }, { menuItemId: salad.id, quantity: 1 }], payment: pay }, { token: owner.token });
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: salad.id, quantity: 2 }], payment: pay }, { token: owner.token });
    const cancelled = await t.api.post('/api/v1/orders', { items: [{ menuItemId: pizza.id, quantity: 5 }], payment: pay }, { token: owner.token });
    await t.api.post(`/api/v1/orders/${cancelled.body.id}/cancel`, undefined, { token: owner.token });

    const res = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/top-items?limit=5', { token: owner.token });
      expect(r.body.items).toHaveLength(2);
      expect((await t.api.get('/api/v1/reports/sales', { token: owner.token })).body.totals.refunds).toBeGreaterThan(0);
      return (await t.api.get('/api/v1/reports/top-items?limit=5', { token: owner.token })).body;
    });
    expect(res.items).toEqual([
      { menuItemId: salad.id, name: 'Salad', quantity: 3, revenue: 2400, orders: 2 },
      { menuItemId: pizza.id, name: 'Pizza', quantity: 2, revenue: 2400, orders: 1 },
    ]);
    const one = await t.api.get('/api/v1/reports/top-items?limit=1', { token: owner.token });
    expect(one.body.items).toHaveLength(1);
  });

  it('splits orders paid in the period by payment method', async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token, { price: 1000 });
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }, { token: owner.token });
    const card = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'card', token: 'tok_visa' } }, { token: owner.token });
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 3 }], payment: { method: 'card', token: 'tok_mastercard' } }, { token: owner.token });
    await t.api.post(`/api/v1/orders/${card.body.id}/cancel`, undefined, { token: owner.token });
    const mix = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/payment-mix', { token: owner.token });
      expect(r.body.methods.find((m: { method: string }) => m.method === 'card')?.refunds).toBe(2000);
      return r.body;
    });
    expect(mix.methods).toEqual([
      { method: 'card', orders: 2, gross: 5000, refunds: 2000, net: 3000 },
      { method: 'cash', orders: 1, gross: 1000, refunds: 0, net: 1000 },
    ]);
  });

  it('lists items at or below their threshold, following stock changes from orders and adjustments', async () => {
    const owner = await signup(t.api);
    const item = await menuItem(t.api, owner.token);
    const other = await menuItem(t.api, owner.token);
    await t.api.put(`/api/v1/inventory/items/${item.id}`, { onHand: 5, lowStockThreshold: 3 }, { token: owner.token });
    await t.api.put(`/api/v1/inventory/items/${other.id}`, { onHand: 50, lowStockThreshold: 3 }, { token: owner.token });
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: { method: 'cash', tendered: 100_000 } }, { token: owner.token });
    const low = await eventually(async () => {
      const r = await t.api.get('/api/v1/reports/low-stock', { token: owner.token });
      expect(r.body.items).toHaveLength(1);
      return r.body;
    });
    expect(low.items[0]).toMatchObject({ menuItemId: item.id, onHand: 3, lowStockThreshold: 3 });
    await t.api.post(`/api/v1/inventory/items/${item.id}/adjustments`, { delta: 10, reason: 'delivery' }, { token: owner.token });
    await eventually(async () => expect((await t.api.get('/api/v1/reports/low-stock', { token: owner.token })).body.items).toEqual([]));

    // A deleted (never ordered) item leaves the list too.
    const gone = await menuItem(t.api, owner.token);
    await t.api.put(`/api/v1/inventory/items/${gone.id}`, { onHand: 0, lowStockThreshold: 1 }, { token: owner.token });
    await eventually(async () => expect((await t.api.get('/api/v1/reports/low-stock', { token: owner.token })).body.items).toHaveLength(1));
    expect((await t.api.delete(`/api/v1/restaurant/menu-items/${gone.id}`, { token: owner.token })).status).toBe(204);
    await eventually(async () => expect((await t.api.get('/api/v1/reports/low-stock', { token: owner.token })).body.items).toEqual([]));
  });

  it('are for owners and managers only', async () => {
    const owner = await signup(t.api);
    const cashier = await staff(t.api, owner, 'cashier');
    for (const path of ['top-items', 'payment-mix', 'low-stock']) {
      expectProblem(await t.api.get(`/api/v1/reports/${path}`, { token: cashier }), 403);
      expectProblem(await t.api.get(`/api/v1/reports/${path}`), 401);
    }
    expectProblem(await t.api.get('/api/v1/reports/top-items?limit=0', { token: owner.token }), 400);
  });
});
