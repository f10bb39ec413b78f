import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { menuItem, onHand, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTwoInstances, type HttpClient, type TestApp, type TwoInstances } from './support/test-app.ts';
import { onRealPostgres } from './support/test-database.ts';

/**
 * Races need a real PostgreSQL: PGlite has one connection and serialises transactions, so a race
 * there proves nothing. CI sets DATABASE_URL to the machine's PostgreSQL, so these always run there.
 */
describe.skipIf(!onRealPostgres())('concurrency on a real PostgreSQL, two app instances on one database', () => {
  let instances: TwoInstances;
  let a: TestApp;
  let b: TestApp;
  let owner: TenantFixture;

  beforeAll(async () => {
    instances = await startTwoInstances();
    ({ a, b } = instances);
    owner = await signup(a.api, { taxRateBps: 825 });
  });
  afterAll(async () => {
    await instances?.close();
  });

  /** Every page of a list endpoint. */
  async function all(api: HttpClient, path: string, token: string) {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const res: any = await api.get(`${path}${path.includes('?') ? '&' : '?'}limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token });
      expect(res.status).toBe(200);
      items.push(...res.body.items);
      cursor = res.body.nextCursor;
    } while (cursor);
    return items;
  }

  it('200 concurrent orders for 50 units: exactly 50 succeed, 150 get 409, stock ends at 0, numbers 1..50', async () => {
    const tenant = await signup(a.api, { taxRateBps: 825 });
    const burger = await menuItem(a.api, tenant.token, { price: 1299 });
    const fries = await menuItem(a.api, tenant.token, { price: 399 });
    await setStock(a.api, tenant.token, burger.id, 50);

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        (i % 2 === 0 ? a.api : b.api).post(
          '/api/v1/orders',
          // Lines in both orders, so that concurrent multi-line orders would deadlock without a lock order.
          { items: i % 3 === 0 ? [{ menuItemId: fries.id, quantity: 1 }, { menuItemId: burger.id, quantity: 1 }] : [{ menuItemId: burger.id, quantity: 1 }], payment: i % 4 === 0 ? { method: 'card', token: 'tok_visa' } : { method: 'cash', tendered: 5000 } },
          { token: tenant.token },
        ),
      ),
    );
    const statuses = results.map((r) => r.status);
    const ok = results.filter((r) => r.status === 201);
    const conflicts = results.filter((r) => r.status === 409);
    console.log(`race: ${ok.length} × 201, ${conflicts.length} × 409, other: ${statuses.filter((s) => s !== 201 && s !== 409).join(',') || 'none'}`);
    expect(ok).toHaveLength(50);
    expect(conflicts).toHaveLength(150);
    for (const c of conflicts) expect(c.body.type).toBe('urn:problem:pos:insufficient-stock');
    expect(await onHand(a.api, tenant.token, burger.id)).toBe(0);
    expect(ok.map((r) => r.body.number).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));

    // Orders are numbered in commit order: listing by number gives increasing creation times.
    const orders = await all(b.api, '/api/v1/orders', tenant.token);
    expect(orders).toHaveLength(50);
  });

  it('reconciles to the cent: captured payments minus refunds equal the totals of paid orders', async () => {
    const tenant = await signup(a.api, { taxRateBps: 700 });
    const item = await menuItem(a.api, tenant.token, { price: 1075 });
    await setStock(a.api, tenant.token, item.id, 30);
    const placed = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a.api : b.api).post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 + (i % 2) }], payment: i % 3 ? { method: 'cash', tendered: 10_000 } : { method: 'card', token: 'tok_mastercard' } }, { token: tenant.token }),
      ),
    );
    const paid = placed.filter((r) => r.status === 201).map((r) => r.body);
    // Cancel a third of them, each twice at once from both instances: one 200 and one 409 each.
    const toCancel = paid.filter((_, i) => i % 3 === 0);
    const cancels = await Promise.all(toCancel.flatMap((o) => [a.api, b.api].map((api) => api.post(`/api/v1/orders/${o.id}/cancel`, undefined, { token: tenant.token }))));
    expect(cancels.filter((r) => r.status === 200)).toHaveLength(toCancel.length);
    expect(cancels.filter((r) => r.status === 409)).toHaveLength(toCancel.length);

    const orders = await all(a.api, '/api/v1/orders', tenant.token);
    const payments = await all(b.api, '/api/v1/payments', tenant.token);
    const paidTotals = orders.filter((o) => o.status === 'paid').reduce((s, o) => s + o.total, 0);
    const captured = payments.reduce((s, p) => s + p.amount, 0);
    const refunded = payments.filter((p) => p.status === 'refunded').reduce((s, p) => s + p.amount, 0);
    console.log(`reconciliation: captured ${captured} - refunded ${refunded} = ${captured - refunded}; paid orders total ${paidTotals}`);
    expect(payments).toHaveLength(orders.length);
    expect(captured - refunded).toBe(paidTotals);
    const unitsSold = orders.filter((o) => o.status === 'paid').reduce((s, o) => s + o.lines[0].quantity, 0);
    expect(await onHand(a.api, tenant.token, item.id)).toBe(30 - unitsSold);
  });

  it('the same Idempotency-Key sent 10 times at once has exactly one effect', async () => {
    const item = await menuItem(a.api, owner.token, { price: 500 });
    await setStock(a.api, owner.token, item.id, 100);
    const headers = { 'idempotency-key': `burst-${Date.now()}` };
    const body = { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 1000 } };
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a.api : b.api).post('/api/v1/orders', body, { token: owner.token, headers })));
    const created = results.filter((r) => r.status === 201);
    for (const r of results) expect([201, 409]).toContain(r.status);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.type).toBe('urn:problem:pos:idempotency-key-in-use');
    expect(new Set(created.map((r) => r.body.id)).size).toBe(1);
    expect(await onHand(a.api, owner.token, item.id)).toBe(99);
    // Once finished, a retry replays it.
    const retry = await a.api.post('/api/v1/orders', body, { token: owner.token, headers });
    expect(retry.status).toBe(201);
    expect(retry.body.id).toBe(created[0]!.body.id);
  });
});
