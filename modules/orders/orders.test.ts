import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, onHand, setStock, signup, staff, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
let owner: TenantFixture;
beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api, { taxRateBps: 825 });
});
afterAll(() => t?.close());

const cash = (tendered: number) => ({ method: 'cash', tendered });
const card = (token: string) => ({ method: 'card', token });

/** Everything a failed order must leave untouched: order count, payment count, stock. */
async function snapshot(token: string, stockItems: string[]) {
  const orders = await t.api.get('/api/v1/orders?limit=100', { token });
  const payments = await t.api.get('/api/v1/payments?limit=100', { token });
  const stock = await Promise.all(stockItems.map((id) => onHand(t.api, token, id)));
  return { orders: orders.body.items.length, payments: payments.body.items.length, stock };
}

describe('POST /api/v1/orders: the happy path', () => {
  it('rings up a cash order: snapshotted prices, integer tax rounded half away from zero, change, stock taken', async () => {
    const pizza = await menuItem(t.api, owner.token, { name: 'Margherita', price: 1999 });
    const soda = await menuItem(t.api, owner.token, { name: 'Soda', price: 250 });
    await setStock(t.api, owner.token, pizza.id, 10);

    const res = await t.api.post(
      '/api/v1/orders',
      { items: [{ menuItemId: pizza.id, quantity: 2 }, { menuItemId: soda.id, quantity: 3 }], payment: cash(6000), note: 'table 4' },
      { token: owner.token },
    );
    expect(res.status).toBe(201);
    const subtotal = 2 * 1999 + 3 * 250; // 4748
    const tax = Math.round((subtotal * 825) / 10000); // 391.71 → 392
    expect(res.body).toMatchObject({
      status: 'paid',
      currency: 'USD',
      lines: [
        { menuItemId: pizza.id, name: 'Margherita', unitPrice: 1999, quantity: 2, lineTotal: 3998 },
        { menuItemId: soda.id, name: 'Soda', unitPrice: 250, quantity: 3, lineTotal: 750 },
      ],
      subtotal,
      tax: 392,
      total: subtotal + tax,
      payment: { method: 'cash', amount: subtotal + tax, status: 'captured', change: 6000 - subtotal - tax },
      note: 'table 4',
    });
    expect(tax).toBe(392);
    expect(Number.isInteger(res.body.number)).toBe(true);
    expect(await onHand(t.api, owner.token, pizza.id)).toBe(8);

    // A later price change does not touch the order: prices were snapshotted.
    await t.api.patch(`/api/v1/restaurant/menu-items/${pizza.id}`, { price: 2500 }, { token: owner.token });
    const again = await t.api.get(`/api/v1/orders/${res.body.id}`, { token: owner.token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
  });

  it('rounds half away from zero: 1 cent at 50 bps is 0.005 → 0, 100 cents at 50 bps is 0.5 → 1', async () => {
    const t1 = await signup(t.api, { taxRateBps: 50 });
    const item = await menuItem(t.api, t1.token, { price: 100 });
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(200) }, { token: t1.token });
    expect(res.body).toMatchObject({ subtotal: 100, tax: 1, total: 101 });
  });

  it('numbers orders per tenant from 1, one after another', async () => {
    const fresh = await signup(t.api);
    const item = await menuItem(t.api, fresh.token);
    const numbers = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(1000) }, { token: fresh.token });
      numbers.push(res.body.number);
    }
    expect(numbers).toEqual([1, 2, 3]);
  });

  it('never runs out of an item without a stock record (made to order)', async () => {
    const item = await menuItem(t.api, owner.token);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 999 }], payment: cash(100_000_000) }, { token: owner.token });
    expect(res.status).toBe(201);
    expect((await t.api.get(`/api/v1/inventory/items/${item.id}`, { token: owner.token })).status).toBe(404);
  });

  it('takes card payments with Stripe test tokens (visa, mastercard)', async () => {
    const item = await menuItem(t.api, owner.token, { price: 1000 });
    for (const token of ['tok_visa', 'tok_mastercard']) {
      const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: card(token) }, { token: owner.token });
      expect(res.status).toBe(201);
      expect(res.body.payment).toMatchObject({ method: 'card', amount: 1083, status: 'captured' });
      expect(res.body.payment.change).toBeUndefined();
    }
  });

  it('lets a cashier ring up orders', async () => {
    const cashier = await staff(t.api, owner, 'cashier');
    const item = await menuItem(t.api, owner.token);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: cashier });
    expect(res.status).toBe(201);
  });
});

describe('POST /api/v1/orders: every failure changes nothing', () => {
  let item: { id: string };
  let unavailable: { id: string };
  beforeAll(async () => {
    item = await menuItem(t.api, owner.token, { price: 1000 });
    unavailable = await menuItem(t.api, owner.token, { available: false });
    await setStock(t.api, owner.token, item.id, 5);
  });

  const cases: Array<[string, number, string | undefined, () => unknown]> = [
    ['empty items', 400, 'validation-error', () => ({ items: [], payment: cash(1000) })],
    ['quantity 0', 400, 'validation-error', () => ({ items: [{ menuItemId: item.id, quantity: 0 }], payment: cash(1000) })],
    ['quantity 1000', 400, 'validation-error', () => ({ items: [{ menuItemId: item.id, quantity: 1000 }], payment: cash(1000) })],
    ['fractional quantity', 400, 'validation-error', () => ({ items: [{ menuItemId: item.id, quantity: 1.5 }], payment: cash(1000) })],
    ['fractional tendered', 400, 'validation-error', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(10.5) })],
    ['unknown payment method', 400, 'validation-error', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'iou' } })],
    ['unknown menu item', 422, 'unknown-menu-item', () => ({ items: [{ menuItemId: '00000000-0000-7000-8000-000000000000', quantity: 1 }], payment: cash(10_000) })],
    ['unavailable menu item', 422, 'menu-item-unavailable', () => ({ items: [{ menuItemId: unavailable.id, quantity: 1 }], payment: cash(10_000) })],
    ['not enough stock', 409, 'insufficient-stock', () => ({ items: [{ menuItemId: item.id, quantity: 6 }], payment: cash(100_000) })],
    ['cash tendered below the total', 422, 'insufficient-tender', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(1082) })],
    ['card declined', 402, 'card-declined', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: card('tok_chargeDeclined') })],
    ['card declined, insufficient funds', 402, 'card-declined', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: card('tok_chargeDeclinedInsufficientFunds') })],
    ['unknown card token', 422, 'invalid-card-token', () => ({ items: [{ menuItemId: item.id, quantity: 1 }], payment: card('tok_bogus') })],
  ];

  it.each(cases)('%s → %i problem, nothing changed', async (_name, status, type, body) => {
    const before = await snapshot(owner.token, [item.id]);
    const res = await t.api.post('/api/v1/orders', body(), { token: owner.token });
    expectProblem(res, status, type);
    expect(await snapshot(owner.token, [item.id])).toEqual(before);
  });

  it('a stock failure on a later line rolls back the earlier lines and the payment', async () => {
    const a = await menuItem(t.api, owner.token);
    const b = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, a.id, 3);
    await setStock(t.api, owner.token, b.id, 1);
    const before = await snapshot(owner.token, [a.id, b.id]);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: a.id, quantity: 2 }, { menuItemId: b.id, quantity: 2 }], payment: cash(100_000) }, { token: owner.token });
    expectProblem(res, 409, 'insufficient-stock');
    expect(res.body.menuItemId).toBe(b.id);
    expect(res.body.detail).toContain(b.id);
    expect(await snapshot(owner.token, [a.id, b.id])).toEqual(before);
  });

  it('counts an item repeated on several lines against its stock once, in total', async () => {
    const a = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, a.id, 3);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: a.id, quantity: 2 }, { menuItemId: a.id, quantity: 2 }], payment: cash(100_000) }, { token: owner.token });
    expectProblem(res, 409, 'insufficient-stock');
    expect(await onHand(t.api, owner.token, a.id)).toBe(3);
  });

  it("another tenant's menu item is unknown here (422), and nothing changes", async () => {
    const other = await signup(t.api);
    const foreign = await menuItem(t.api, other.token);
    await setStock(t.api, other.token, foreign.id, 5);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: foreign.id, quantity: 1 }], payment: cash(100_000) }, { token: owner.token });
    expectProblem(res, 422, 'unknown-menu-item');
    expect(await onHand(t.api, other.token, foreign.id)).toBe(5);
  });

  it('needs a token (401)', async () => {
    expectProblem(await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }), 401);
  });
});

describe('GET /api/v1/orders', () => {
  it('lists orders with cursor pagination and filters by status and time', async () => {
    const shop = await signup(t.api);
    const item = await menuItem(t.api, shop.token, { price: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(1000) }, { token: shop.token })).body.id);
    }
    await t.api.post(`/api/v1/orders/${ids[0]}/cancel`, undefined, { token: shop.token });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await t.api.get(`/api/v1/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: shop.token });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((o: { id: string }) => o.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(ids);

    const cancelled = await t.api.get('/api/v1/orders?status=cancelled', { token: shop.token });
    expect(cancelled.body.items.map((o: { id: string }) => o.id)).toEqual([ids[0]]);
    const future = await t.api.get(`/api/v1/orders?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { token: shop.token });
    expect(future.body.items).toEqual([]);
  });

  it('rejects bad list parameters with 400', async () => {
    for (const q of ['limit=0', 'limit=101', 'limit=abc', 'status=open', 'from=yesterday', 'cursor=not-a-cursor']) {
      expectProblem(await t.api.get(`/api/v1/orders?${q}`, { token: owner.token }), 400);
    }
  });

  it("answers 404 for an unknown order and for another tenant's order", async () => {
    const item = await menuItem(t.api, owner.token);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: owner.token });
    const other = await signup(t.api);
    expectProblem(await t.api.get(`/api/v1/orders/${order.body.id}`, { token: other.token }), 404);
    expectProblem(await t.api.get('/api/v1/orders/00000000-0000-7000-8000-000000000000', { token: owner.token }), 404);
    expectProblem(await t.api.get('/api/v1/orders/not-a-uuid', { token: owner.token }), 400);
  });
});

describe('POST /api/v1/orders/:id/cancel', () => {
  it('refunds the payment and restores tracked stock atomically; a second cancel is a 409', async () => {
    const item = await menuItem(t.api, owner.token, { price: 1000 });
    await setStock(t.api, owner.token, item.id, 4);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 3 }], payment: card('tok_visa') }, { token: owner.token });
    expect(await onHand(t.api, owner.token, item.id)).toBe(1);

    const res = await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.body.id, status: 'cancelled', payment: { status: 'refunded' } });
    expect(res.body.cancelledAt).toEqual(expect.any(String));
    expect(await onHand(t.api, owner.token, item.id)).toBe(4);
    const payment = await t.api.get(`/api/v1/payments/${order.body.payment.id}`, { token: owner.token });
    expect(payment.body).toMatchObject({ status: 'refunded', amount: order.body.total, orderId: order.body.id });
    expect(payment.body.refundedAt).toEqual(expect.any(String));

    const again = await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token });
    expectProblem(again, 409, 'order-already-cancelled');
    expect(await onHand(t.api, owner.token, item.id)).toBe(4);
  });

  it('is for owners and managers: a cashier gets 403 and the order stays paid', async () => {
    const cashier = await staff(t.api, owner, 'cashier');
    const manager = await staff(t.api, owner, 'manager');
    const item = await menuItem(t.api, owner.token);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: cashier });
    expectProblem(await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: cashier }), 403);
    expect((await t.api.get(`/api/v1/orders/${order.body.id}`, { token: owner.token })).body.status).toBe('paid');
    expect((await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: manager })).status).toBe(200);
  });

  it("answers 404 for another tenant's order and changes nothing", async () => {
    const item = await menuItem(t.api, owner.token);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: owner.token });
    const other = await signup(t.api);
    expectProblem(await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: other.token }), 404);
    expect((await t.api.get(`/api/v1/orders/${order.body.id}`, { token: owner.token })).body.status).toBe('paid');
  });
});

describe('Idempotency-Key (Stripe semantics)', () => {
  it('replays the first response for the same key and body, with no second effect', async () => {
    const item = await menuItem(t.api, owner.token, { price: 500 });
    await setStock(t.api, owner.token, item.id, 10);
    const body = { items: [{ menuItemId: item.id, quantity: 2 }], payment: cash(2000) };
    const headers = { 'idempotency-key': `order-${Date.now()}` };
    const first = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    const before = await snapshot(owner.token, [item.id]);
    const second = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await snapshot(owner.token, [item.id])).toEqual(before);
    expect(await onHand(t.api, owner.token, item.id)).toBe(8);
  });

  it('answers 422 when the same key comes with a different body, and changes nothing', async () => {
    const item = await menuItem(t.api, owner.token, { price: 500 });
    const headers = { 'idempotency-key': `reuse-${Date.now()}` };
    await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(2000) }, { token: owner.token, headers });
    const before = await snapshot(owner.token, []);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 2 }], payment: cash(2000) }, { token: owner.token, headers });
    expectProblem(res, 422, 'idempotency-key-reused');
    expect(await snapshot(owner.token, [])).toEqual(before);
  });

  it('replays a failure too (same status and problem), without running the order again', async () => {
    const item = await menuItem(t.api, owner.token, { price: 500 });
    await setStock(t.api, owner.token, item.id, 1);
    const headers = { 'idempotency-key': `fail-${Date.now()}` };
    const body = { items: [{ menuItemId: item.id, quantity: 2 }], payment: cash(5000) };
    const first = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expectProblem(first, 409, 'insufficient-stock');
    await setStock(t.api, owner.token, item.id, 10);
    const second = await t.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(second.status).toBe(409);
    expect(second.body).toEqual(first.body);
    expect(await onHand(t.api, owner.token, item.id)).toBe(10);
  });

  it('keys are per tenant: the same key in another tenant is a new request', async () => {
    const other = await signup(t.api);
    const mine = await menuItem(t.api, owner.token);
    const theirs = await menuItem(t.api, other.token);
    const headers = { 'idempotency-key': `shared-${Date.now()}` };
    const a = await t.api.post('/api/v1/orders', { items: [{ menuItemId: mine.id, quantity: 1 }], payment: cash(5000) }, { token: owner.token, headers });
    const b = await t.api.post('/api/v1/orders', { items: [{ menuItemId: theirs.id, quantity: 1 }], payment: cash(5000) }, { token: other.token, headers });
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.body.id).not.toBe(a.body.id);
  });

  it('makes cancel safe to retry: the replay is a 200, not a 409', async () => {
    const item = await menuItem(t.api, owner.token);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: owner.token });
    const headers = { 'idempotency-key': `cancel-${order.body.id}` };
    const first = await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token, headers });
    const second = await t.api.post(`/api/v1/orders/${order.body.id}/cancel`, undefined, { token: owner.token, headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
  });

  it('rejects an invalid key with 400', async () => {
    const item = await menuItem(t.api, owner.token);
    const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: cash(5000) }, { token: owner.token, headers: { 'idempotency-key': 'x'.repeat(300) } });
    expectProblem(res, 400);
  });

  it('is documented in OpenAPI with the 402/409/422 answers', async () => {
    const doc = (await t.api.get('/docs/json')).body;
    const post = doc.paths['/api/v1/orders'].post;
    expect(post.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`)).toContain('header:idempotency-key');
    expect(Object.keys(post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '402', '403', '409', '422']));
  });
});
