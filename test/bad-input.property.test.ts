import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { menuItem, setStock, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * Property: for every route in the OpenAPI document, invalid bodies, path parameters and query
 * strings never produce a 5xx, errors are always problem+json, and nothing changes.
 */
let t: TestApp;
let owner: TenantFixture;
let operations: Array<{ method: string; path: string; query: string[] }>;
const stats = { requests: 0, serverErrors: 0 };

async function state() {
  const token = owner.token;
  const count = async (path: string) => (await t.api.get(`${path}?limit=100`, { token })).body.items.length;
  return {
    menu: await count('/api/v1/restaurant/menu-items'),
    stock: (await t.api.get('/api/v1/inventory/items?limit=100', { token })).body.items.map((s: { onHand: number }) => s.onHand),
    orders: await count('/api/v1/orders'),
    payments: await count('/api/v1/payments'),
    staff: await count('/api/v1/auth/users'),
  };
}

beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api);
  const item = await menuItem(t.api, owner.token);
  await setStock(t.api, owner.token, item.id, 10);
  await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }, { token: owner.token });
  const doc = t.app.swagger() as { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>> };
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) })),
  );
});
afterAll(() => {
  console.log(`bad-input property: ${operations.length} operations, ${stats.requests} generated requests, ${stats.serverErrors} × 5xx`);
  return t?.close();
});

// Values that are wrong for almost any field: wrong types, huge, negative, fractional, odd strings.
const junk = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, '', ' ', '💥', 'null', '[]', '{}', '../../etc/passwd', "' or 1=1 --", '%00', 'a'.repeat(5000)),
  fc.string({ maxLength: 40 }),
);
const pathParam = fc.oneof(fc.string({ minLength: 1, maxLength: 40 }), fc.constantFrom('0', '-1', '00000000-0000-0000-0000-000000000000', 'null', '%2e%2e'));

describe('invalid input on every route', () => {
  it('never answers 5xx, always problem+json for errors, and changes nothing', async () => {
    const before = await state();
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            params: pathParam,
            body: junk,
            rawBody: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
            query: fc.dictionary(fc.constantFrom(...op.query, 'limit', 'cursor', 'x'), fc.string({ maxLength: 30 }), { maxKeys: 3 }),
            auth: fc.constantFrom('owner', 'none', 'garbage'),
          }),
          async ({ params, body, rawBody, query, auth }) => {
            const path = op.path.replace(/\{\w+\}/g, () => encodeURIComponent(params));
            const qs = new URLSearchParams(query).toString();
            const token = auth === 'owner' ? owner.token : auth === 'garbage' ? 'not.a.jwt' : undefined;
            const withBody = !['GET', 'DELETE'].includes(op.method);
            const res = await t.api.call(op.method, `${path}${qs ? `?${qs}` : ''}`, withBody && rawBody === undefined ? body : undefined, {
              token,
              ...(withBody && rawBody !== undefined ? { raw: rawBody } : {}),
            });
            stats.requests++;
            if (res.status >= 500) stats.serverErrors++;
            expect(res.status, `${op.method} ${path}`).toBeLessThan(500);
            if (res.status >= 400) expect(res.headers.get('content-type'), `${op.method} ${path}`).toMatch(/^application\/problem\+json/);
          },
        ),
        { numRuns: 40, seed: 20261125 },
      );
    }
    expect(await state()).toEqual(before);
    expect(stats.serverErrors).toBe(0);
  }, 120_000);
});
