import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, menuItem, signup, staff, team, type TenantFixture, walkPages } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const ITEMS = '/api/v1/restaurant/menu-items';
const item = (id: string) => `${ITEMS}/${id}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}`;

/** Reads a menu item back over the API (asserting the 200). */
async function readItem(token: string, id: string) {
  const res = await t.api.get(item(id), { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Ids of every live menu item of the token's tenant, over all pages. */
async function listedIds(token: string, query = ''): Promise<string[]> {
  const { items } = await walkPages(t.api, `${ITEMS}${query}`, token, 100);
  return items.map((i: { id: string }) => i.id);
}

/** Places a cash order for one unit of `menuItemId`; asserts the 201. */
async function orderOne(token: string, menuItemId: string) {
  const res = await t.api.post('/api/v1/orders', { items: [{ menuItemId, quantity: 1 }], payment: { method: 'cash', tendered: 100_000 } }, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

describe('POST /restaurant/menu-items', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    owner = await signup(t.api, { currency: 'EUR' });
    managerToken = await staff(t.api, owner, 'manager');
    cashierToken = await staff(t.api, owner, 'cashier');
  });

  it('creates an item (201) priced in integer minor units of the tenant currency', async () => {
    const sku = `SKU-${uniq()}`;
    const res = await t.api.post(ITEMS, { name: 'Margherita', sku, price: 1250, category: 'pizza' }, { token: owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(UUID),
      name: 'Margherita',
      sku,
      price: 1250,
      currency: 'EUR',
      category: 'pizza',
      available: true,
      createdAt: expect.stringMatching(ISO_UTC),
    });
    expect(Number.isInteger(res.body.price)).toBe(true);
    expect(await readItem(owner.token, res.body.id)).toEqual(res.body);
  });

  it('defaults sku and category to null and available to true', async () => {
    const res = await t.api.post(ITEMS, { name: 'Bread', price: 300 }, { token: owner.token });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ sku: null, category: null, available: true, currency: 'EUR' });
  });

  it("takes the currency from the tenant; a client-sent currency is an unknown field (400)", async () => {
    const jpy = await signup(t.api, { currency: 'JPY' });
    const refused = await t.api.post('/api/v1/restaurant/menu-items', { name: 'Ramen', price: 900, currency: 'USD' }, { token: jpy.token });
    expectProblem(refused, 400, 'validation-error');
    expect(refused.body.errors).toEqual([{ path: 'body.currency', message: 'is not a known field' }]);
    const created = await menuItem(t.api, jpy.token, { price: 900 });
    expect(created.currency).toBe('JPY');
    expect((await readItem(jpy.token, created.id)).currency).toBe('JPY');
  });

  it('can create an unavailable item', async () => {
    const created = await menuItem(t.api, owner.token, { available: false });
    expect((await readItem(owner.token, created.id)).available).toBe(false);
  });

  it('lets a manager create an item (201)', async () => {
    const res = await t.api.post(ITEMS, { name: 'Manager special', price: 990 }, { token: managerToken });
    expect(res.status).toBe(201);
    expect(await listedIds(owner.token)).toContain(res.body.id);
  });

  it('forbids a cashier (403) and creates nothing', async () => {
    const sku = `CASHIER-${uniq()}`;
    const before = await listedIds(owner.token);
    const res = await t.api.post(ITEMS, { name: 'Sneaky', sku, price: 100 }, { token: cashierToken });
    expectProblem(res, 403);
    expect(await listedIds(owner.token)).toEqual(before);
    // The sku is still free.
    expect((await t.api.post(ITEMS, { name: 'Legit', sku, price: 100 }, { token: owner.token })).status).toBe(201);
  });

  it('checks the role before the body: a cashier sending an invalid body gets 403', async () => {
    expectProblem(await t.api.post(ITEMS, { price: 12.5 }, { token: cashierToken }), 403);
  });

  it('answers 401 without a token, even for an invalid body, and creates nothing', async () => {
    const before = await listedIds(owner.token);
    expectProblem(await t.api.post(ITEMS, { name: 'Anonymous', price: 100 }), 401);
    expectProblem(await t.api.post(ITEMS, { price: -1 }), 401);
    expect(await listedIds(owner.token)).toEqual(before);
  });

  it.each([
    ['a non-integer price', { price: 12.5 }, 'body.price'],
    ['a negative price', { price: -1 }, 'body.price'],
    ['a price sent as a string', { price: '12.50' }, 'body.price'],
    ['a missing price', { price: undefined }, 'body.price'],
    ['an empty name', { name: '   ' }, 'body.name'],
    ['a name over 120 characters', { name: 'n'.repeat(121) }, 'body.name'],
    ['a non-boolean available', { available: 'yes' }, 'body.available'],
  ])('rejects %s with a 400 naming the field, and creates nothing', async (_label, override, path) => {
    const sku = `BAD-${uniq()}`;
    const before = await listedIds(owner.token);
    const res = await t.api.post(ITEMS, { name: 'Invalid', sku, price: 500, ...override }, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors).toEqual([{ path, message: expect.any(String) }]);
    expect(await listedIds(owner.token)).toEqual(before);
  });

  it('answers 409 for a duplicate sku in the tenant and keeps the first item unchanged', async () => {
    const sku = `DUP-${uniq()}`;
    const first = await menuItem(t.api, owner.token, { name: 'First', sku, price: 100 });
    const before = await listedIds(owner.token);

    const res = await t.api.post(ITEMS, { name: 'Second', sku, price: 200 }, { token: owner.token });
    expectProblem(res, 409, 'duplicate-sku');
    expect(res.body.detail).toContain(sku);
    // Surrounding whitespace does not make a different sku.
    expectProblem(await t.api.post(ITEMS, { name: 'Third', sku: ` ${sku} `, price: 300 }, { token: owner.token }), 409, 'duplicate-sku');

    expect(await listedIds(owner.token)).toEqual(before);
    expect(await readItem(owner.token, first.id)).toMatchObject({ name: 'First', sku, price: 100 });
  });

  it('allows the same sku in another tenant', async () => {
    const sku = `SHARED-${uniq()}`;
    const mine = await menuItem(t.api, owner.token, { sku });
    const other = await signup(t.api);
    const theirs = await menuItem(t.api, other.token, { sku });
    expect(theirs.sku).toBe(sku);
    expect(theirs.id).not.toBe(mine.id);
  });

  it('allows any number of items without a sku', async () => {
    const a = await menuItem(t.api, owner.token);
    const b = await menuItem(t.api, owner.token);
    expect(a.sku).toBeNull();
    expect(b.sku).toBeNull();
  });
});

describe('GET /restaurant/menu-items', () => {
  let owner: TenantFixture;
  let cashierToken: string;
  const created: string[] = [];
  const drinks: string[] = [];
  beforeAll(async () => {
    owner = await signup(t.api);
    cashierToken = await staff(t.api, owner, 'cashier');
    for (let i = 0; i < 7; i++) {
      const category = i % 3 === 0 ? 'drinks' : 'mains';
      const made = await menuItem(t.api, owner.token, { name: `Listed ${i}`, category });
      created.push(made.id);
      if (category === 'drinks') drinks.push(made.id);
    }
  });

  it('lists the tenant items as {items, nextCursor}', async () => {
    const res = await t.api.get(ITEMS, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items.map((i: { id: string }) => i.id).sort()).toEqual([...created].sort());
    for (const i of res.body.items) expect(i).toMatchObject({ id: expect.stringMatching(UUID), price: expect.any(Number), currency: 'USD' });
  });

  it('lets a cashier list and get items', async () => {
    expect((await listedIds(cashierToken)).sort()).toEqual([...created].sort());
    const got = await t.api.get(item(created[0]!), { token: cashierToken });
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: created[0], name: 'Listed 0' });
  });

  it('answers 401 without a token', async () => {
    expectProblem(await t.api.get(ITEMS), 401);
    expectProblem(await t.api.get(item(created[0]!)), 401);
  });

  it('walks all pages with limit and cursor, visiting every item exactly once', async () => {
    const { pages, items } = await walkPages(t.api, ITEMS, owner.token, 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = items.map((i: { id: string }) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual([...created].sort());
  });

  it('defaults the page size to 20', async () => {
    const busy = await signup(t.api);
    for (let i = 0; i < 21; i++) await menuItem(t.api, busy.token);
    const first = await t.api.get(ITEMS, { token: busy.token });
    expect(first.body.items).toHaveLength(20);
    expect(first.body.nextCursor).toEqual(expect.any(String));
    const second = await t.api.get(`${ITEMS}?cursor=${encodeURIComponent(first.body.nextCursor)}`, { token: busy.token });
    expect(second.body.items).toHaveLength(1);
    expect(second.body.nextCursor).toBeNull();
  });

  it('filters by category, also across pages', async () => {
    const res = await t.api.get(`${ITEMS}?category=drinks`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.items.map((i: { id: string }) => i.id).sort()).toEqual([...drinks].sort());
    for (const i of res.body.items) expect(i.category).toBe('drinks');

    const { items } = await walkPages(t.api, `${ITEMS}?category=drinks`, owner.token, 1);
    expect(items.map((i: { id: string }) => i.id).sort()).toEqual([...drinks].sort());
    expect((await t.api.get(`${ITEMS}?category=desserts`, { token: owner.token })).body).toEqual({ items: [], nextCursor: null });
  });

  it('never lists another tenant items', async () => {
    const other = await signup(t.api);
    const theirs = await menuItem(t.api, other.token);
    expect(await listedIds(owner.token)).not.toContain(theirs.id);
    expect(await listedIds(other.token)).toEqual([theirs.id]);
  });

  it.each(['0', '101', 'abc'])('rejects limit=%s with a 400 naming querystring.limit', async (limit) => {
    const res = await t.api.get(`${ITEMS}?limit=${limit}`, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['querystring.limit']);
  });

  it('rejects a cursor this API did not make with a 400', async () => {
    expectProblem(await t.api.get(`${ITEMS}?cursor=not-a-cursor`, { token: owner.token }), 400);
  });
});

describe('GET /restaurant/menu-items/:id', () => {
  let owner: TenantFixture;
  beforeAll(async () => {
    owner = await signup(t.api);
  });

  it('answers 404 for an unknown id', async () => {
    expectProblem(await t.api.get(item(randomUUID()), { token: owner.token }), 404);
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const res = await t.api.get(item('not-a-uuid'), { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['params.id']);
  });
});

describe('another tenant menu items are invisible (404, never 403) and untouched', () => {
  let a: TenantFixture;
  let b: TenantFixture;
  let itemOfA: Awaited<ReturnType<typeof menuItem>>;
  beforeAll(async () => {
    a = await signup(t.api);
    b = await signup(t.api);
    itemOfA = await menuItem(t.api, a.token, { name: 'Secret recipe', sku: `A-${uniq()}`, price: 4200, category: 'secret' });
  });

  it('GET answers 404', async () => {
    const res = await t.api.get(item(itemOfA.id), { token: b.token });
    expectProblem(res, 404);
    expect(JSON.stringify(res.body)).not.toContain('Secret recipe');
  });

  it('PATCH answers 404 and changes nothing', async () => {
    const before = await readItem(a.token, itemOfA.id);
    expectProblem(await t.api.patch(item(itemOfA.id), { price: 1, name: 'Hijacked' }, { token: b.token }), 404);
    expect(await readItem(a.token, itemOfA.id)).toEqual(before);
  });

  it('DELETE answers 404 and deletes nothing', async () => {
    const before = await readItem(a.token, itemOfA.id);
    expectProblem(await t.api.delete(item(itemOfA.id), { token: b.token }), 404);
    expect(await readItem(a.token, itemOfA.id)).toEqual(before);
    expect(await listedIds(a.token)).toContain(itemOfA.id);
  });
});

describe('PATCH /restaurant/menu-items/:id', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    ({ owner, managerToken, cashierToken } = await team(t.api));
  });

  it('changes only the fields sent', async () => {
    const created = await menuItem(t.api, owner.token, { name: 'Soup', sku: `SOUP-${uniq()}`, price: 700, category: 'starters' });
    const res = await t.api.patch(item(created.id), { price: 750 }, { token: owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { updatedAt: _u1, ...rest } = res.body;
    const { updatedAt: _u2, ...original } = created as typeof created & { updatedAt: string };
    expect(rest).toEqual({ ...original, price: 750 });
    expect(await readItem(owner.token, created.id)).toEqual(res.body);

    const renamed = await t.api.patch(item(created.id), { name: 'Soup of the day', available: false }, { token: owner.token });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ name: 'Soup of the day', available: false, price: 750, sku: created.sku, category: 'starters', currency: 'USD' });
  });

  it('clears sku and category with null', async () => {
    const created = await menuItem(t.api, owner.token, { sku: `CLR-${uniq()}`, category: 'x' });
    const res = await t.api.patch(item(created.id), { sku: null, category: null }, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sku: null, category: null, name: created.name, price: created.price });
  });

  it('lets a manager patch, and forbids a cashier (403) without changing anything', async () => {
    const created = await menuItem(t.api, owner.token, { price: 100 });
    expect((await t.api.patch(item(created.id), { price: 200 }, { token: managerToken })).status).toBe(200);
    const before = await readItem(owner.token, created.id);
    expectProblem(await t.api.patch(item(created.id), { price: 1 }, { token: cashierToken }), 403);
    expect(await readItem(owner.token, created.id)).toEqual(before);
    expect(before.price).toBe(200);
  });

  it('rejects an empty body with a 400', async () => {
    const created = await menuItem(t.api, owner.token);
    const before = await readItem(owner.token, created.id);
    expectProblem(await t.api.patch(item(created.id), {}, { token: owner.token }), 400, 'validation-error');
    expect(await readItem(owner.token, created.id)).toEqual(before);
  });

  it.each([
    ['a non-integer price', { price: 12.5 }, 'body.price'],
    ['a negative price', { price: -5 }, 'body.price'],
    ['an empty name', { name: '' }, 'body.name'],
    ['a null name', { name: null }, 'body.name'],
  ])('rejects %s with a 400 naming the field, and changes nothing', async (_label, patch, path) => {
    const created = await menuItem(t.api, owner.token);
    const before = await readItem(owner.token, created.id);
    const res = await t.api.patch(item(created.id), patch, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    expect(await readItem(owner.token, created.id)).toEqual(before);
  });

  it('answers 409 when the new sku is taken in the tenant, and changes nothing', async () => {
    const taken = `TAKEN-${uniq()}`;
    await menuItem(t.api, owner.token, { sku: taken });
    const created = await menuItem(t.api, owner.token, { sku: `FREE-${uniq()}` });
    const before = await readItem(owner.token, created.id);
    expectProblem(await t.api.patch(item(created.id), { sku: taken, price: 1 }, { token: owner.token }), 409, 'duplicate-sku');
    expect(await readItem(owner.token, created.id)).toEqual(before);
  });

  it('answers 404 for an unknown id', async () => {
    expectProblem(await t.api.patch(item(randomUUID()), { price: 1 }, { token: owner.token }), 404);
  });
});

describe('DELETE /restaurant/menu-items/:id', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    ({ owner, managerToken, cashierToken } = await team(t.api));
  });

  it('deletes an item no order references (204): it is gone from get and list', async () => {
    const created = await menuItem(t.api, owner.token, { sku: `GONE-${uniq()}` });
    const res = await t.api.delete(item(created.id), { token: owner.token });
    expect(res.status).toBe(204);
    expect(res.body).toBeUndefined();
    expectProblem(await t.api.get(item(created.id), { token: owner.token }), 404);
    expect(await listedIds(owner.token)).not.toContain(created.id);
    // Deleting again: nothing left to delete.
    expectProblem(await t.api.delete(item(created.id), { token: owner.token }), 404);
    // The sku is free again.
    expect((await t.api.post(ITEMS, { name: 'Reborn', sku: created.sku, price: 100 }, { token: owner.token })).status).toBe(201);
  });

  it('lets a manager delete', async () => {
    const created = await menuItem(t.api, owner.token);
    expect((await t.api.delete(item(created.id), { token: managerToken })).status).toBe(204);
    expectProblem(await t.api.get(item(created.id), { token: owner.token }), 404);
  });

  it('forbids a cashier (403) and keeps the item', async () => {
    const created = await menuItem(t.api, owner.token);
    const before = await readItem(owner.token, created.id);
    expectProblem(await t.api.delete(item(created.id), { token: cashierToken }), 403);
    expect(await readItem(owner.token, created.id)).toEqual(before);
    expect(await listedIds(owner.token)).toContain(created.id);
  });

  it('answers 404 for an unknown id', async () => {
    expectProblem(await t.api.delete(item(randomUUID()), { token: owner.token }), 404);
  });

  it('archives an item an order references (204): get shows available false, the list hides it, the order keeps its history', async () => {
    const created = await menuItem(t.api, owner.token, { name: 'Historic Burger', price: 1500 });
    const order = await orderOne(cashierToken, created.id);

    const res = await t.api.delete(item(created.id), { token: owner.token });
    expect(res.status).toBe(204);

    const archived = await readItem(owner.token, created.id);
    expect(archived).toMatchObject({ id: created.id, name: 'Historic Burger', price: 1500, available: false });
    expect(await listedIds(owner.token)).not.toContain(created.id);

    const readBack = await t.api.get(`/api/v1/orders/${order.id}`, { token: owner.token });
    expect(readBack.status).toBe(200);
    expect(readBack.body.lines).toEqual([expect.objectContaining({ menuItemId: created.id, name: 'Historic Burger', unitPrice: 1500, quantity: 1 })]);

    // An archived item can no longer be ordered, changed or deleted again.
    const reorder = await t.api.post('/api/v1/orders', { items: [{ menuItemId: created.id, quantity: 1 }], payment: { method: 'cash', tendered: 100_000 } }, { token: cashierToken });
    expectProblem(reorder, 422);
    expectProblem(await t.api.patch(item(created.id), { available: true }, { token: owner.token }), 404);
    expectProblem(await t.api.delete(item(created.id), { token: owner.token }), 404);
    expect((await readItem(owner.token, created.id)).available).toBe(false);
  });
});
