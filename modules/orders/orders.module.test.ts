import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthGateway, TenantProfile } from '../auth/gateway.ts';
import { inventoryGatewayProblems, type InventoryGateway, type StockLine } from '../inventory/gateway.ts';
import { paymentProblems, type PaymentsGateway, type PaymentView } from '../payments/gateway.ts';
import type { MenuItemQuote, MenuItemReferenceCheck, RestaurantGateway } from '../restaurant/gateway.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { expectProblem } from '../../test/support/fixtures.ts';
import { bootModule, stubGateway, type ModuleTest, type TestTenant } from '../../test/support/module-test.ts';
import type { OrderCancelled, OrderPaid } from './gateway.ts';
import ordersModule from './index.ts';

/**
 * The orders module alone: auth, restaurant, inventory and payments are stubs with the behaviour
 * each test needs (prices, tax, a declined card, stock refused), so these tests say what orders
 * does with its gateways' answers, over HTTP and on a real database.
 */

const tenants = new Map<string, TenantProfile>();
const menu = new Map<string, MenuItemQuote>();
/** Units left per menu item; absent = untracked. */
const stock = new Map<string, number>();
const referenceChecks: MenuItemReferenceCheck[] = [];

const auth = stubGateway<AuthGateway>('auth', {
  async getTenant(uow) {
    const profile = tenants.get(uow.tenantId);
    if (!profile) throw problems.notFound('The tenant of this token does not exist.');
    return profile;
  },
});
const restaurant = stubGateway<RestaurantGateway>('restaurant', {
  findMenuItems: async (_uow, ids) => new Map(ids.flatMap((id) => (menu.has(id) ? [[id, menu.get(id)!] as const] : []))),
  registerReferenceCheck: (check) => void referenceChecks.push(check),
});
const inventory = stubGateway<InventoryGateway>('inventory', {
  takeStock: vi.fn(async (_uow, lines: readonly StockLine[]) => {
    for (const { menuItemId, quantity } of lines) {
      const left = stock.get(menuItemId);
      if (left !== undefined && left < quantity) {
        throw inventoryGatewayProblems.insufficientStock.create(`Only ${left} left.`, { menuItemId, onHand: left, requested: quantity });
      }
    }
    return [];
  }),
  restoreStock: vi.fn(async () => []),
});

/** An in-memory payments gateway: cash with change, `tok_visa` approves, `tok_chargeDeclined` declines; a rollback voids. */
const payments = (() => {
  const byId = new Map<string, PaymentView>();
  const voided: string[] = [];
  const gateway = stubGateway<PaymentsGateway>('payments', {
    async collect(uow, { orderId, amount, currency, instruction }) {
      if (instruction.method === 'card' && instruction.token === 'tok_chargeDeclined') {
        throw paymentProblems.cardDeclined.create('The card was declined (declined).', { declineCode: 'declined' });
      }
      if (instruction.method === 'cash' && instruction.tendered < amount) {
        throw paymentProblems.insufficientTender.create('Not enough cash.', { tendered: instruction.tendered, total: amount });
      }
      const payment: PaymentView = {
        id: newId(),
        orderId,
        method: instruction.method,
        amount,
        currency,
        status: 'captured',
        ...(instruction.method === 'cash' ? { change: instruction.tendered - amount } : {}),
        createdAt: new Date().toISOString(),
      };
      byId.set(payment.id, payment);
      uow.onRollback(() => void (byId.delete(payment.id), voided.push(payment.id)));
      return payment;
    },
    find: async (_uow, id) => byId.get(id),
    findMany: async (_uow, ids) => new Map(ids.flatMap((id) => (byId.has(id) ? [[id, byId.get(id)!] as const] : []))),
    async refund(_uow, id) {
      const refunded = { ...byId.get(id)!, status: 'refunded' as const, refundedAt: new Date().toISOString() };
      byId.set(id, refunded);
      return refunded;
    },
  });
  return { gateway, byId, voided };
})();

let t: ModuleTest<void>;
beforeAll(async () => {
  t = await bootModule(ordersModule, { deps: { auth, restaurant, inventory, payments: payments.gateway } });
});
afterAll(() => t?.close());

/** A tenant known to the auth stub (USD, 8.25 % tax) with two menu items known to the restaurant stub. */
function shop(): { tenant: TestTenant; pizza: MenuItemQuote; soda: MenuItemQuote } {
  const tenant = t.tenant();
  tenants.set(tenant.id, { id: tenant.id, slug: `shop-${tenant.id}`, name: 'Shop', currency: 'USD', taxRateBps: 825, timeZone: 'UTC' });
  const pizza = { id: newId(), name: 'Margherita', price: 1250, currency: 'USD', available: true };
  const soda = { id: newId(), name: 'Soda', price: 500, currency: 'USD', available: true };
  menu.set(pizza.id, pizza).set(soda.id, soda);
  return { tenant, pizza, soda };
}

const ordersOf = async (tenant: TestTenant) => (await t.api.get('/api/v1/orders?limit=100', { token: tenant.token })).body.items as unknown[];

describe('orders module alone (stubbed auth, restaurant, inventory, payments)', () => {
  it('rings up an order at the stubbed prices and tax, takes stock per item, and publishes OrderPaid', async () => {
    const { tenant, pizza, soda } = shop();
    const items = [
      { menuItemId: pizza.id, quantity: 2 },
      { menuItemId: soda.id, quantity: 1 },
      { menuItemId: pizza.id, quantity: 1 },
    ];
    const event = await t.scenario
      .stimulate(() => t.api.post('/api/v1/orders', { items, payment: { method: 'cash', tendered: 5000 } }, { token: tenant.tokenFor({ role: 'cashier' }) }))
      .andWaitForEvent<OrderPaid>('OrderPaid', (e, res) => e.payload.orderId === res.body?.id);
    // 3 × 1250 + 500 = 4250; tax 8.25 % = 350.625 → 351; change 5000 - 4601.
    expect(event).toMatchObject({ tenantId: tenant.id, payload: { subtotal: 4250, tax: 351, total: 4601, currency: 'USD', paymentMethod: 'cash' } });
    expect(event.payload.lines.map((l) => [l.name, l.quantity, l.lineTotal])).toEqual([
      ['Margherita', 2, 2500],
      ['Soda', 1, 500],
      ['Margherita', 1, 1250],
    ]);
    expect(inventory.takeStock).toHaveBeenLastCalledWith(
      expect.anything(),
      [
        { menuItemId: pizza.id, quantity: 3 },
        { menuItemId: soda.id, quantity: 1 },
      ],
      { orderId: event.payload.orderId, userId: expect.any(String) },
    );
    const order = await t.api.get(`/api/v1/orders/${event.payload.orderId}`, { token: tenant.token });
    expect(order.status).toBe(200);
    expect(order.body).toMatchObject({ number: 1, status: 'paid', total: 4601, payment: { method: 'cash', change: 399 } });
    // It told restaurant, through the check it registered, that this item is now referenced.
    expect(referenceChecks).toHaveLength(1);
    expect(await t.app.runInTenant(tenant.id, (uow) => referenceChecks[0]!(uow, pizza.id))).toBe(true);
    expect(await t.app.runInTenant(tenant.id, (uow) => referenceChecks[0]!(uow, newId()))).toBe(false);
  });

  it('a card the payments gateway declines is a 402 and leaves no order; stock is never touched', async () => {
    const { tenant, pizza } = shop();
    vi.mocked(inventory.takeStock).mockClear();
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: pizza.id, quantity: 1 }], payment: { method: 'card', token: 'tok_chargeDeclined' } }, { token: tenant.token });
    expectProblem(res, 402, 'card-declined');
    expect(res.body.declineCode).toBe('declined');
    expect(inventory.takeStock).not.toHaveBeenCalled();
    expect(await ordersOf(tenant)).toEqual([]);
  });

  it('stock the inventory gateway refuses is a 409; the order and its payment roll back', async () => {
    const { tenant, pizza } = shop();
    stock.set(pizza.id, 1);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: pizza.id, quantity: 2 }], payment: { method: 'card', token: 'tok_visa' } }, { token: tenant.token });
    expectProblem(res, 409, 'insufficient-stock');
    expect(res.body).toMatchObject({ menuItemId: pizza.id, onHand: 1, requested: 2 });
    expect(await ordersOf(tenant)).toEqual([]);
    // The payment collected before stock was refused was given back when the unit of work rolled back.
    expect(payments.voided).toHaveLength(1);
    expect(payments.byId.has(payments.voided[0]!)).toBe(false);
    expect(t.published<OrderPaid>('OrderPaid').filter((e) => e.tenantId === tenant.id)).toEqual([]);
  });

  it('an item the restaurant gateway does not know is a 422 naming the line', async () => {
    const { tenant } = shop();
    const ghost = newId();
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: ghost, quantity: 1 }], payment: { method: 'cash', tendered: 100 } }, { token: tenant.token });
    expectProblem(res, 422, 'unknown-menu-item');
    expect(res.body).toMatchObject({ menuItemId: ghost, path: 'body.items.0.menuItemId' });
  });

  it('cancelling refunds through payments, restores stock through inventory, and publishes OrderCancelled; cashiers may not', async () => {
    const { tenant, soda } = shop();
    const placed = await t.api.post('/api/v1/orders', { items: [{ menuItemId: soda.id, quantity: 2 }], payment: { method: 'card', token: 'tok_visa' } }, { token: tenant.token });
    expect(placed.status).toBe(201);
    expectProblem(await t.api.post(`/api/v1/orders/${placed.body.id}/cancel`, undefined, { token: tenant.tokenFor({ role: 'cashier' }) }), 403);
    const event = await t.scenario
      .stimulate(() => t.api.post(`/api/v1/orders/${placed.body.id}/cancel`, undefined, { token: tenant.tokenFor({ role: 'manager' }) }))
      .andWaitForEvent<OrderCancelled>('OrderCancelled', (e) => e.payload.orderId === placed.body.id);
    expect(event.payload).toMatchObject({ refundAmount: 1083, paymentMethod: 'card', number: 1 });
    expect(inventory.restoreStock).toHaveBeenLastCalledWith(expect.anything(), { orderId: placed.body.id, userId: expect.any(String) });
    const order = await t.api.get(`/api/v1/orders/${placed.body.id}`, { token: tenant.token });
    expect(order.body).toMatchObject({ status: 'cancelled', payment: { status: 'refunded' } });
    expectProblem(await t.api.post(`/api/v1/orders/${placed.body.id}/cancel`, undefined, { token: tenant.token }), 409, 'order-already-cancelled');
  });
});
