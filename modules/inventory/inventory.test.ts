import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, onHand, setStock, signup, staff, team, type TenantFixture, walkPages } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const level = (menuItemId: string) => `/api/v1/inventory/items/${menuItemId}`;
const adjustments = (menuItemId: string) => `/api/v1/inventory/items/${menuItemId}/adjustments`;
const LIST = '/api/v1/inventory/items';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** The full stock level of a tracked item, read back over the API. */
async function readLevel(token: string, menuItemId: string) {
  const res = await t.api.get(level(menuItemId), { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Asserts that the item has no stock record (it is untracked: made to order). */
async function expectUntracked(token: string, menuItemId: string) {
  expectProblem(await t.api.get(level(menuItemId), { token }), 404);
}

describe('PUT /inventory/items/:menuItemId', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    ({ owner, managerToken, cashierToken } = await team(t.api));
  });

  it('starts tracking an item and answers 200 {menuItemId, onHand, lowStockThreshold, updatedAt}', async () => {
    const dish = await menuItem(t.api, owner.token);
    const res = await t.api.put(level(dish.id), { onHand: 12, lowStockThreshold: 3 }, { token: owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ menuItemId: dish.id, onHand: 12, lowStockThreshold: 3, updatedAt: expect.stringMatching(ISO_UTC) });
    expect(await readLevel(owner.token, dish.id)).toEqual(res.body);
  });

  it('defaults the low-stock threshold to 0', async () => {
    const dish = await menuItem(t.api, owner.token);
    const res = await t.api.put(level(dish.id), { onHand: 5 }, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ onHand: 5, lowStockThreshold: 0 });
  });

  it('overwrites the level of a tracked item and keeps its threshold when none is sent', async () => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 10, 4);
    const res = await t.api.put(level(dish.id), { onHand: 2 }, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ onHand: 2, lowStockThreshold: 4 });
    expect(await readLevel(owner.token, dish.id)).toMatchObject({ onHand: 2, lowStockThreshold: 4 });

    const changed = await t.api.put(level(dish.id), { onHand: 0, lowStockThreshold: 1 }, { token: owner.token });
    expect(changed.body).toMatchObject({ onHand: 0, lowStockThreshold: 1 });
  });

  it('lets a manager set stock', async () => {
    const dish = await menuItem(t.api, owner.token);
    const res = await t.api.put(level(dish.id), { onHand: 7 }, { token: managerToken });
    expect(res.status).toBe(200);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(7);
  });

  it('forbids a cashier (403) and changes nothing', async () => {
    const tracked = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, tracked.id, 9, 2);
    const before = await readLevel(owner.token, tracked.id);
    expectProblem(await t.api.put(level(tracked.id), { onHand: 100 }, { token: cashierToken }), 403);
    expect(await readLevel(owner.token, tracked.id)).toEqual(before);

    const untracked = await menuItem(t.api, owner.token);
    expectProblem(await t.api.put(level(untracked.id), { onHand: 100 }, { token: cashierToken }), 403);
    await expectUntracked(owner.token, untracked.id);
  });

  it('answers 401 without a token, even for an invalid body', async () => {
    const dish = await menuItem(t.api, owner.token);
    expectProblem(await t.api.put(level(dish.id), { onHand: 1 }), 401);
    expectProblem(await t.api.put(level(dish.id), { onHand: -1 }), 401);
    await expectUntracked(owner.token, dish.id);
  });

  it('answers 404 for an unknown menu item and tracks nothing', async () => {
    const ghost = randomUUID();
    expectProblem(await t.api.put(level(ghost), { onHand: 3 }, { token: owner.token }), 404);
    await expectUntracked(owner.token, ghost);
  });

  it('answers 404 for a menu item that was deleted', async () => {
    const dish = await menuItem(t.api, owner.token);
    expect((await t.api.delete(`/api/v1/restaurant/menu-items/${dish.id}`, { token: owner.token })).status).toBe(204);
    expectProblem(await t.api.put(level(dish.id), { onHand: 3 }, { token: owner.token }), 404);
    await expectUntracked(owner.token, dish.id);
  });

  it("answers 404 for another tenant's menu item and tracks it for neither tenant", async () => {
    const other = await signup(t.api);
    const theirs = await menuItem(t.api, other.token);
    expectProblem(await t.api.put(level(theirs.id), { onHand: 3 }, { token: owner.token }), 404);
    await expectUntracked(owner.token, theirs.id);
    await expectUntracked(other.token, theirs.id);
  });

  it.each([
    ['a negative onHand', { onHand: -1 }, 'body.onHand'],
    ['a fractional onHand', { onHand: 1.5 }, 'body.onHand'],
    ['a missing onHand', { lowStockThreshold: 2 }, 'body.onHand'],
    ['onHand as a string', { onHand: '5' }, 'body.onHand'],
    ['a negative threshold', { onHand: 5, lowStockThreshold: -1 }, 'body.lowStockThreshold'],
    ['a fractional threshold', { onHand: 5, lowStockThreshold: 0.5 }, 'body.lowStockThreshold'],
  ])('rejects %s with a 400 naming the field, and changes nothing', async (_label, body, path) => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 4, 1);
    const before = await readLevel(owner.token, dish.id);
    const res = await t.api.put(level(dish.id), body, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    expect(await readLevel(owner.token, dish.id)).toEqual(before);
  });

  it('answers 400 for a menu item id that is not a UUID', async () => {
    const res = await t.api.put(level('not-a-uuid'), { onHand: 1 }, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['params.menuItemId']);
  });
});

describe('POST /inventory/items/:menuItemId/adjustments', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    ({ owner, managerToken, cashierToken } = await team(t.api));
  });

  /** A fresh menu item tracked at `stock` units. */
  const tracked = async (stock: number, threshold?: number) => {
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, stock, threshold);
    return dish.id;
  };

  it('adds and removes stock, answering 201 with the new level', async () => {
    const id = await tracked(10, 2);
    const delivery = await t.api.post(adjustments(id), { delta: 5, reason: 'delivery' }, { token: owner.token });
    expect(delivery.status, JSON.stringify(delivery.body)).toBe(201);
    expect(delivery.body).toMatchObject({ menuItemId: id, onHand: 15, lowStockThreshold: 2, updatedAt: expect.stringMatching(ISO_UTC) });

    const waste = await t.api.post(adjustments(id), { delta: -3, reason: 'waste' }, { token: managerToken });
    expect(waste.status).toBe(201);
    expect(waste.body.onHand).toBe(12);
    expect(await readLevel(owner.token, id)).toEqual(waste.body);
  });

  it.each(['delivery', 'waste', 'count', 'correction'])('accepts the reason "%s"', async (reason) => {
    const id = await tracked(1);
    const res = await t.api.post(adjustments(id), { delta: 1, reason }, { token: owner.token });
    expect(res.status).toBe(201);
    expect(res.body.onHand).toBe(2);
  });

  it('may bring stock down to exactly zero', async () => {
    const id = await tracked(3);
    const res = await t.api.post(adjustments(id), { delta: -3, reason: 'waste' }, { token: owner.token });
    expect(res.status).toBe(201);
    expect(res.body.onHand).toBe(0);
    expect(await onHand(t.api, owner.token, id)).toBe(0);
  });

  it('answers 409 insufficient-stock for a result below zero, and nothing changes', async () => {
    const id = await tracked(2, 1);
    const before = await readLevel(owner.token, id);
    const res = await t.api.post(adjustments(id), { delta: -3, reason: 'waste' }, { token: owner.token });
    expectProblem(res, 409, 'insufficient-stock');
    expect(res.body).toMatchObject({ menuItemId: id, onHand: 2 });
    expect(await readLevel(owner.token, id)).toEqual(before);

    const empty = await tracked(0);
    expectProblem(await t.api.post(adjustments(empty), { delta: -1, reason: 'count' }, { token: owner.token }), 409, 'insufficient-stock');
    expect(await onHand(t.api, owner.token, empty)).toBe(0);
  });

  it.each([
    ['a zero delta', { delta: 0, reason: 'count' }, 'body.delta'],
    ['a fractional delta', { delta: 1.5, reason: 'delivery' }, 'body.delta'],
    ['a delta sent as a string', { delta: '5', reason: 'delivery' }, 'body.delta'],
    ['a missing delta', { reason: 'delivery' }, 'body.delta'],
    ['an unknown reason', { delta: 1, reason: 'theft' }, 'body.reason'],
    ['a missing reason', { delta: 1 }, 'body.reason'],
  ])('rejects %s with a 400 naming the field, and nothing changes', async (_label, body, path) => {
    const id = await tracked(5);
    const before = await readLevel(owner.token, id);
    const res = await t.api.post(adjustments(id), body, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    expect(await readLevel(owner.token, id)).toEqual(before);
  });

  it('answers 404 for a menu item that is not tracked, and does not start tracking it', async () => {
    const dish = await menuItem(t.api, owner.token);
    expectProblem(await t.api.post(adjustments(dish.id), { delta: 5, reason: 'delivery' }, { token: owner.token }), 404);
    await expectUntracked(owner.token, dish.id);
  });

  it('answers 404 for an unknown menu item', async () => {
    expectProblem(await t.api.post(adjustments(randomUUID()), { delta: 5, reason: 'delivery' }, { token: owner.token }), 404);
  });

  it('forbids a cashier (403) and changes nothing', async () => {
    const id = await tracked(5);
    expectProblem(await t.api.post(adjustments(id), { delta: -1, reason: 'waste' }, { token: cashierToken }), 403);
    expect(await onHand(t.api, owner.token, id)).toBe(5);
  });

  it('answers 401 without a token and changes nothing', async () => {
    const id = await tracked(5);
    expectProblem(await t.api.post(adjustments(id), { delta: -1, reason: 'waste' }), 401);
    expect(await onHand(t.api, owner.token, id)).toBe(5);
  });

  it('never goes below zero under concurrent removals: exactly the stock on hand is removed', async () => {
    const id = await tracked(10);
    const results = await Promise.all(
      Array.from({ length: 25 }, () => t.api.post(adjustments(id), { delta: -1, reason: 'waste' }, { token: owner.token })),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(15);
    expect(await onHand(t.api, owner.token, id)).toBe(0);
  });
});

describe('GET /inventory/items/:menuItemId', () => {
  it('answers 404 for an untracked (made to order) menu item, and for an unknown id', async () => {
    const owner = await signup(t.api);
    const dish = await menuItem(t.api, owner.token);
    const res = await t.api.get(level(dish.id), { token: owner.token });
    expectProblem(res, 404);
    expectProblem(await t.api.get(level(randomUUID()), { token: owner.token }), 404);
  });

  it('lets a cashier read stock', async () => {
    const owner = await signup(t.api);
    const cashierToken = await staff(t.api, owner, 'cashier');
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 6, 2);
    expect(await readLevel(cashierToken, dish.id)).toMatchObject({ menuItemId: dish.id, onHand: 6, lowStockThreshold: 2 });
  });

  it('answers 401 without a token', async () => {
    expectProblem(await t.api.get(level(randomUUID())), 401);
  });

  it('stops tracking a menu item once it is deleted: no level, no low-stock alert, no adjustments', async () => {
    const owner = await signup(t.api);
    const dish = await menuItem(t.api, owner.token);
    await setStock(t.api, owner.token, dish.id, 0, 5);
    expect((await t.api.get(`${LIST}?lowStock=true`, { token: owner.token })).body.items).toHaveLength(1);

    expect((await t.api.delete(`/api/v1/restaurant/menu-items/${dish.id}`, { token: owner.token })).status).toBe(204);
    await expectUntracked(owner.token, dish.id);
    expect((await t.api.get(LIST, { token: owner.token })).body).toEqual({ items: [], nextCursor: null });
    expect((await t.api.get(`${LIST}?lowStock=true`, { token: owner.token })).body).toEqual({ items: [], nextCursor: null });
    expectProblem(await t.api.post(adjustments(dish.id), { delta: 1, reason: 'delivery' }, { token: owner.token }), 404);
  });

  it('reflects stock taken by a paid order', async () => {
    const owner = await signup(t.api);
    const dish = await menuItem(t.api, owner.token, { price: 500 });
    await setStock(t.api, owner.token, dish.id, 5);
    const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: dish.id, quantity: 2 }], payment: { method: 'cash', tendered: 100_000 } }, { token: owner.token });
    expect(order.status, JSON.stringify(order.body)).toBe(201);
    expect(await onHand(t.api, owner.token, dish.id)).toBe(3);
  });
});

describe('GET /inventory/items', () => {
  let owner: TenantFixture;
  let cashierToken: string;
  const ids: Record<'below' | 'atThreshold' | 'above' | 'emptyNoThreshold', string> = { below: '', atThreshold: '', above: '', emptyNoThreshold: '' };
  let untracked: string;
  beforeAll(async () => {
    owner = await signup(t.api);
    cashierToken = await staff(t.api, owner, 'cashier');
    const make = async (stock: number, threshold?: number) => {
      const dish = await menuItem(t.api, owner.token);
      await setStock(t.api, owner.token, dish.id, stock, threshold);
      return dish.id;
    };
    ids.below = await make(2, 5);
    ids.atThreshold = await make(5, 5);
    ids.above = await make(6, 5);
    ids.emptyNoThreshold = await make(0);
    untracked = (await menuItem(t.api, owner.token)).id;
  });

  const listIds = async (query: string, token = owner.token) => {
    const res = await t.api.get(`${LIST}${query}`, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    return (res.body.items as { menuItemId: string }[]).map((i) => i.menuItemId).sort();
  };

  it('lists every tracked item of the tenant, and no untracked one', async () => {
    expect(await listIds('')).toEqual(Object.values(ids).sort());
    expect(await listIds('?lowStock=false')).toEqual(Object.values(ids).sort());
    expect(await listIds('')).not.toContain(untracked);
  });

  it('lowStock=true lists only items at or below their threshold', async () => {
    const res = await t.api.get(`${LIST}?lowStock=true`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { menuItemId: string }) => i.menuItemId).sort()).toEqual([ids.below, ids.atThreshold, ids.emptyNoThreshold].sort());
    for (const i of res.body.items) expect(i.onHand).toBeLessThanOrEqual(i.lowStockThreshold);
  });

  it('an item leaves the low-stock list once restocked above its threshold, and enters it when it falls back', async () => {
    const other = await signup(t.api);
    const dish = await menuItem(t.api, other.token);
    await setStock(t.api, other.token, dish.id, 1, 3);
    expect(await listIds('?lowStock=true', other.token)).toEqual([dish.id]);
    expect((await t.api.post(adjustments(dish.id), { delta: 10, reason: 'delivery' }, { token: other.token })).status).toBe(201);
    expect(await listIds('?lowStock=true', other.token)).toEqual([]);
    expect(await listIds('', other.token)).toEqual([dish.id]);
    expect((await t.api.post(adjustments(dish.id), { delta: -8, reason: 'waste' }, { token: other.token })).status).toBe(201);
    expect(await listIds('?lowStock=true', other.token)).toEqual([dish.id]);
  });

  it('lets a cashier list stock', async () => {
    expect(await listIds('?lowStock=true', cashierToken)).toEqual([ids.below, ids.atThreshold, ids.emptyNoThreshold].sort());
  });

  it('paginates with limit and cursor, visiting every tracked item exactly once', async () => {
    const all = await listIds('');
    const { pages, items } = await walkPages(t.api, LIST, owner.token, 2);
    expect(pages.every((p) => p.length <= 2)).toBe(true);
    const seen = items.map((i: { menuItemId: string }) => i.menuItemId);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual(all);
    const low = await walkPages(t.api, `${LIST}?lowStock=true`, owner.token, 1);
    expect(low.items.map((i: { menuItemId: string }) => i.menuItemId).sort()).toEqual([ids.below, ids.atThreshold, ids.emptyNoThreshold].sort());
  });

  it.each(['lowStock=yes', 'limit=0', 'limit=101', 'limit=abc'])('rejects %s with a 400', async (query) => {
    expectProblem(await t.api.get(`${LIST}?${query}`, { token: owner.token }), 400, 'validation-error');
  });

  it('answers 401 without a token', async () => {
    expectProblem(await t.api.get(LIST), 401);
  });
});

describe("another tenant's stock is invisible (404) and untouched", () => {
  let a: TenantFixture;
  let b: TenantFixture;
  let dishOfA: string;
  beforeAll(async () => {
    a = await signup(t.api);
    b = await signup(t.api);
    dishOfA = (await menuItem(t.api, a.token)).id;
    await setStock(t.api, a.token, dishOfA, 8, 10);
  });

  it('GET answers 404', async () => {
    expectProblem(await t.api.get(level(dishOfA), { token: b.token }), 404);
  });

  it('adjustments answer 404 and change nothing', async () => {
    const before = await readLevel(a.token, dishOfA);
    expectProblem(await t.api.post(adjustments(dishOfA), { delta: -5, reason: 'waste' }, { token: b.token }), 404);
    expectProblem(await t.api.post(adjustments(dishOfA), { delta: 5, reason: 'delivery' }, { token: b.token }), 404);
    expect(await readLevel(a.token, dishOfA)).toEqual(before);
  });

  it('PUT answers 404 and changes nothing', async () => {
    const before = await readLevel(a.token, dishOfA);
    expectProblem(await t.api.put(level(dishOfA), { onHand: 0 }, { token: b.token }), 404);
    expect(await readLevel(a.token, dishOfA)).toEqual(before);
    await expectUntracked(b.token, dishOfA);
  });

  it('the list never shows it, low on stock or not', async () => {
    for (const query of ['', '?lowStock=true']) {
      const res = await t.api.get(`${LIST}${query}`, { token: b.token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    }
    const mine = await t.api.get(`${LIST}?lowStock=true`, { token: a.token });
    expect(mine.body.items.map((i: { menuItemId: string }) => i.menuItemId)).toEqual([dishOfA]);
  });
});
