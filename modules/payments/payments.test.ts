import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, signup, staff, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
let owner: TenantFixture;
beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api, { currency: 'EUR' });
});
afterAll(() => t?.close());

const order = async (payment: unknown) => {
  const item = await menuItem(t.api, owner.token, { price: 1234 });
  const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment }, { token: owner.token });
  expect(res.status).toBe(201);
  return res.body;
};

describe('GET /api/v1/payments/:id', () => {
  it('shows a captured cash payment in minor units of the tenant currency', async () => {
    const o = await order({ method: 'cash', tendered: 2000 });
    const res = await t.api.get(`/api/v1/payments/${o.payment.id}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: o.payment.id,
      orderId: o.id,
      method: 'cash',
      amount: 1234,
      currency: 'EUR',
      status: 'captured',
      change: 766,
      createdAt: expect.any(String),
    });
  });

  it('shows a refunded card payment with refundedAt after the order is cancelled', async () => {
    const o = await order({ method: 'card', token: 'tok_visa' });
    await t.api.post(`/api/v1/orders/${o.id}/cancel`, undefined, { token: owner.token });
    const res = await t.api.get(`/api/v1/payments/${o.payment.id}`, { token: owner.token });
    expect(res.body).toMatchObject({ method: 'card', status: 'refunded', amount: 1234 });
    expect(Date.parse(res.body.refundedAt)).toBeGreaterThanOrEqual(Date.parse(res.body.createdAt));
  });

  it('is readable by a cashier; unknown ids are 404, malformed ids 400', async () => {
    const o = await order({ method: 'cash', tendered: 2000 });
    const cashier = await staff(t.api, owner, 'cashier');
    expect((await t.api.get(`/api/v1/payments/${o.payment.id}`, { token: cashier })).status).toBe(200);
    expectProblem(await t.api.get('/api/v1/payments/00000000-0000-7000-8000-000000000000', { token: owner.token }), 404);
    expectProblem(await t.api.get('/api/v1/payments/123', { token: owner.token }), 400);
    expectProblem(await t.api.get(`/api/v1/payments/${o.payment.id}`), 401);
  });
});

describe('GET /api/v1/payments?orderId=', () => {
  it('lists the payments of one order', async () => {
    const o = await order({ method: 'cash', tendered: 5000 });
    await order({ method: 'cash', tendered: 5000 });
    const res = await t.api.get(`/api/v1/payments?orderId=${o.id}`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.items.map((p: { id: string }) => p.id)).toEqual([o.payment.id]);
    expect(res.body.nextCursor).toBeNull();
  });

  it('pages through all payments with a cursor', async () => {
    for (let i = 0; i < 3; i++) await order({ method: 'cash', tendered: 5000 });
    const first = await t.api.get('/api/v1/payments?limit=2', { token: owner.token });
    expect(first.body.items).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.api.get(`/api/v1/payments?limit=2&cursor=${first.body.nextCursor}`, { token: owner.token });
    expect(second.body.items[0].id > first.body.items[1].id).toBe(true);
    expectProblem(await t.api.get('/api/v1/payments?orderId=nope', { token: owner.token }), 400);
  });
});
