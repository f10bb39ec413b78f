import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthGateway, TenantProfile } from '../auth/gateway.ts';
import type { StockLevelChanged, StockTrackingStopped } from '../inventory/gateway.ts';
import type { OrderCancelled, OrderPaid } from '../orders/gateway.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { expectProblem } from '../../test/support/fixtures.ts';
import { bootModule, stubGateway, testEvent, type ModuleTest, type TestTenant } from '../../test/support/module-test.ts';
import reportingModule from './index.ts';

/**
 * The reporting module alone: its read model is fed only by events, which these tests publish as
 * orders and inventory would (Scenario API); auth is a stub giving each tenant's time zone and currency.
 */

const tenants = new Map<string, TenantProfile>();
const auth = stubGateway<AuthGateway>('auth', {
  async getTenant(uow) {
    const profile = tenants.get(uow.tenantId);
    if (!profile) throw problems.notFound('The tenant of this token does not exist.');
    return profile;
  },
});

let t: ModuleTest<void>;
beforeAll(async () => {
  t = await bootModule(reportingModule, { deps: { auth } });
});
afterAll(() => t?.close());

function tenant(timeZone = 'UTC', currency = 'USD'): TestTenant {
  const made = t.tenant();
  tenants.set(made.id, { id: made.id, slug: `t-${made.id}`, name: 'T', currency, taxRateBps: 1000, timeZone });
  return made;
}

const paid = (tenantId: string, o: { total: number; method: 'cash' | 'card'; paidAt: string; item: { id: string; name: string; quantity: number } }) => {
  const subtotal = Math.round(o.total / 1.1);
  return testEvent<OrderPaid>(tenantId, 'OrderPaid', {
    orderId: newId(),
    number: 1,
    currency: 'JPY',
    subtotal,
    tax: o.total - subtotal,
    total: o.total,
    paymentMethod: o.method,
    lines: [{ menuItemId: o.item.id, name: o.item.name, unitPrice: subtotal / o.item.quantity, quantity: o.item.quantity, lineTotal: subtotal }],
    paidAt: o.paidAt,
  });
};

describe('reporting module alone (events published into it, stubbed auth)', () => {
  it('an OrderPaid shows in sales (in the tenant time zone), top items and payment mix; an OrderCancelled as a refund', async () => {
    const owner = tenant('Asia/Tokyo', 'JPY');
    const ramen = { id: newId(), name: 'Ramen', quantity: 2 };
    // 16:30 UTC on March 10 is 01:30 on March 11 in Tokyo: its day starts at 15:00 UTC.
    const period = '?from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z';
    const first = paid(owner.id, { total: 2200, method: 'cash', paidAt: '2026-03-10T16:30:00.000Z', item: ramen });
    const second = paid(owner.id, { total: 1100, method: 'card', paidAt: '2026-03-10T17:00:00.000Z', item: { ...ramen, quantity: 1 } });
    const sales = await t.scenario.publish([first, second]).andWaitFor(async () => {
      const res = await t.api.get(`/api/v1/reports/sales${period}`, { token: owner.token });
      return res.body.totals?.orders === 2 && res.body;
    });
    expect(sales).toMatchObject({ currency: 'JPY', timeZone: 'Asia/Tokyo', totals: { orders: 2, gross: 3300, tax: 300, refunds: 0, net: 3300 } });
    expect(sales.buckets).toEqual([{ start: '2026-03-10T15:00:00.000Z', orders: 2, gross: 3300, tax: 300, refunds: 0, net: 3300 }]);
    const top = await t.api.get(`/api/v1/reports/top-items${period}`, { token: owner.tokenFor({ role: 'manager' }) });
    expect(top.body.items).toEqual([{ menuItemId: ramen.id, name: 'Ramen', quantity: 3, revenue: 3000, orders: 2 }]);

    const cancel = testEvent<OrderCancelled>(owner.id, 'OrderCancelled', {
      orderId: first.payload.orderId,
      number: 1,
      currency: 'JPY',
      refundAmount: 2200,
      paymentMethod: 'cash',
      cancelledAt: '2026-03-11T00:00:00.000Z',
    });
    const mix = await t.scenario.publish(cancel).andWaitFor(async () => {
      const res = await t.api.get(`/api/v1/reports/payment-mix${period}`, { token: owner.token });
      return res.body.methods?.some((m: { refunds: number }) => m.refunds > 0) && res.body.methods;
    });
    expect(mix).toEqual([
      { method: 'card', orders: 1, gross: 1100, refunds: 0, net: 1100 },
      { method: 'cash', orders: 1, gross: 2200, refunds: 2200, net: 0 },
    ]);
    expectProblem(await t.api.get(`/api/v1/reports/sales${period}`, { token: owner.tokenFor({ role: 'cashier' }) }), 403);
    const stranger = tenant();
    expect((await t.api.get(`/api/v1/reports/sales${period}`, { token: stranger.token })).body.totals.orders).toBe(0);
  });

  it('keeps the newest stock level of an item (an older StockLevelChanged arriving late is ignored) and forgets an untracked item', async () => {
    const owner = tenant();
    const item = newId();
    const level = (version: number, onHand: number) =>
      testEvent<StockLevelChanged>(owner.id, 'StockLevelChanged', { menuItemId: item, onHand, lowStockThreshold: 3, lowStock: onHand <= 3, version });
    const newer = level(2, 1);
    const older = level(1, 10);
    await t.scenario.publish([newer, older]).andWaitUntilHandled();
    const low = await t.api.get('/api/v1/reports/low-stock', { token: owner.token });
    expect(low.body.items).toEqual([{ menuItemId: item, onHand: 1, lowStockThreshold: 3, updatedAt: expect.any(String) }]);

    await t.scenario
      .publish(testEvent<StockTrackingStopped>(owner.id, 'StockTrackingStopped', { menuItemId: item }))
      .andWaitFor(async () => (await t.api.get('/api/v1/reports/low-stock', { token: owner.token })).body.items.length === 0);
  });
});
