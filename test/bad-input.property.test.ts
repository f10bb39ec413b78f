import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../shared/database.ts';
import { menuItem, setStock, signup, staff, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type ApiResponse, type TestApp } from './support/test-app.ts';

/**
 * Properties over every operation of the OpenAPI document:
 * 1. junk bodies, path parameters and query strings never produce a 5xx, errors are always
 *    problem+json, and nothing changes;
 * 2. a *valid* request with one field (or query parameter) replaced by a value PostgreSQL cannot
 *    take (full Unicode with control characters and NUL, integers up to and past 2^31 and 2^53,
 *    date-times from year 0 to 9999 with any offset, time zones PostgreSQL does not know) or an
 *    unknown field added never produces a 5xx, and when refused (4xx) changes nothing;
 * 3. the document itself: every request body object is closed (`additionalProperties: false`)
 *    and every request string is constrained (pattern, format or enum), so NUL cannot get through.
 */
let t: TestApp;
let owner: TenantFixture;
let ids: { item: string; order: string; cashier: string };
let refreshToken: string;
type Operation = { method: string; path: string; query: string[]; op: OpenApiOperation };
type JsonSchema = Record<string, any>;
type OpenApiOperation = { parameters?: Array<{ in: string; name: string; schema?: JsonSchema }>; requestBody?: { content?: Record<string, { schema: JsonSchema }> } };
let doc: { paths: Record<string, Record<string, OpenApiOperation>>; components?: { schemas?: Record<string, JsonSchema> } };
let operations: Operation[];
const stats = { requests: 0, serverErrors: 0, mutated: 0, refused: 0 };

/**
 * A fingerprint of every business table (md5 of its rows), read as the database owner: equal
 * fingerprints = nothing changed. Works on PostgreSQL and PGlite.
 */
const TABLES = ['auth.tenants', 'auth.users', 'auth.refresh_tokens', 'restaurant.menu_items', 'inventory.stock_levels', 'inventory.stock_movements', 'orders.orders', 'orders.order_lines', 'payments.payments'];
async function fingerprint(): Promise<string> {
  const rows = await queryRows<{ t: string; h: string }>(
    t.app.database.db,
    sql.raw(TABLES.map((tb) => `select '${tb}' as t, md5(coalesce(string_agg(x::text, ',' order by x::text), '')) as h from ${tb} x`).join(' union all ')),
  );
  return rows.map((r) => `${r.t}:${r.h}`).join('|');
}

beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api);
  const item = await menuItem(t.api, owner.token, { category: 'soups' });
  await setStock(t.api, owner.token, item.id, 10_000);
  const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }, { token: owner.token });
  await staff(t.api, owner, 'cashier');
  const users = await t.api.get('/api/v1/auth/users', { token: owner.token });
  ids = { item: item.id, order: order.body.id, cashier: users.body.items.find((u: { role: string }) => u.role === 'cashier').id };
  refreshToken = (await t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password })).body.refreshToken;
  doc = t.app.swagger() as typeof doc;
  operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ method: method.toUpperCase(), path, op, query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name) })),
  );
});
afterAll(() => {
  console.log(
    `bad-input property: ${operations?.length} operations, ${stats.requests} generated requests (${stats.mutated} mutated valid ones, ${stats.refused} refused), ${stats.serverErrors} × 5xx`,
  );
  return t?.close();
});

// --- Generators -------------------------------------------------------------------------------

/** Strings over all of Unicode, control characters and NUL included (lone surrogates too). */
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.tuple(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 })).map(([a, b]) => `${a}\u0000${b}`),
  fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 8 }),
  fc.constantFrom('\u0000', 'tok_visa\u0000', '\ud800', '\u202e', '\ufeff', '💥', 'a'.repeat(5000), "' or 1=1 --", '%00'),
);
/** Integers around the int4 and float64-exact limits, and beyond. */
const nastyInt = fc.oneof(
  fc.integer(),
  fc.integer({ min: 2 ** 31 - 5, max: 2 ** 31 + 5 }),
  fc.integer({ min: -(2 ** 31) - 5, max: -(2 ** 31) + 5 }),
  fc.constantFrom(2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, 0, -1, 999, 1000, 1_000_001, 10_001, 100_000_000_001),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map(Number),
  fc.double({ noNaN: true }),
);
const pad = (n: number, width = 2) => String(Math.abs(n)).padStart(width, '0');
/** ISO 8601 date-times from year 0 to 9999, with `Z` or any offset up to ±23:59. */
const nastyDate = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 1969, 1970, 9999)),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    offset: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), { nil: undefined }),
  })
  .map(({ year, month, day, hour, offset }) => {
    const zone = offset === undefined ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.trunc(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:00:00${zone}`;
  });
/** Time zones Intl may accept but PostgreSQL does not know, and near misses. */
const nastyZone = fc.constantFrom('US/Pacific-New', 'Mars/Olympus_Mons', 'europe/paris', 'GMT+3', '+25:00', '-03:00', '+05:45', 'Etc/GMT+15', 'UTC\u0000', '', 'Local');
/** Integers as query strings: decimal, hex, exponent, signs, spaces, past 2^31 and 2^53. */
const nastyIntText = fc.oneof(nastyInt.map(String), fc.constantFrom('0x10', '1e2', '+5', ' 5', '5 ', '5.0', '00', '0', '-0', '016', '9'.repeat(30)));

const anyNasty = fc.oneof(nastyString, nastyInt, nastyDate, nastyZone, fc.anything({ maxDepth: 1 }));
const queryNasty = fc.oneof(nastyString, nastyIntText, nastyDate, nastyZone);

// --- Valid requests to mutate ----------------------------------------------------------------

type Template = { params?: Record<string, string>; body?: Record<string, unknown>; query?: Record<string, string> };
let serial = 0;
const period = { from: '2020-01-01T00:00:00Z', to: '2020-12-01T00:00:00Z' };
const templates: Record<string, () => Template> = {
  'POST /api/v1/auth/signup': () => ({
    body: { restaurantName: 'Property Bistro', currency: 'EUR', email: `p${serial++}@example.com`, password: 'correct horse battery', taxRateBps: 825, timeZone: 'Europe/Paris' },
  }),
  'POST /api/v1/auth/login': () => ({ body: { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password } }),
  'POST /api/v1/auth/refresh': () => ({ body: { refreshToken } }),
  'POST /api/v1/auth/logout': () => ({ body: { refreshToken } }),
  'POST /api/v1/auth/users': () => ({ body: { email: `c${serial++}@example.com`, password: 'correct horse battery', role: 'cashier' } }),
  'PATCH /api/v1/auth/users/{id}': () => ({ params: { id: ids.cashier }, body: { active: true } }),
  'GET /api/v1/auth/users': () => ({ query: { limit: '5' } }),
  'POST /api/v1/restaurant/menu-items': () => ({ body: { name: 'Soup', sku: `SKU-${serial++}`, price: 500, category: 'soups', available: true } }),
  'GET /api/v1/restaurant/menu-items': () => ({ query: { limit: '5', category: 'soups' } }),
  'PATCH /api/v1/restaurant/menu-items/{id}': () => ({ params: { id: ids.item }, body: { name: 'Soup', price: 500, category: 'soups', available: true } }),
  'PUT /api/v1/inventory/items/{menuItemId}': () => ({ params: { menuItemId: ids.item }, body: { onHand: 10_000, lowStockThreshold: 5 } }),
  'POST /api/v1/inventory/items/{menuItemId}/adjustments': () => ({ params: { menuItemId: ids.item }, body: { delta: 1, reason: 'delivery' } }),
  'GET /api/v1/inventory/items': () => ({ query: { limit: '5', lowStock: 'true' } }),
  'POST /api/v1/orders': () => ({
    body: { items: [{ menuItemId: ids.item, quantity: 1 }], payment: serial++ % 2 ? { method: 'cash', tendered: 100_000 } : { method: 'card', token: 'tok_visa' }, note: 'no onions' },
  }),
  'GET /api/v1/orders': () => ({ query: { limit: '5', status: 'paid', ...period } }),
  'GET /api/v1/payments': () => ({ query: { limit: '5', orderId: ids.order } }),
  'GET /api/v1/reports/sales': () => ({ query: { ...period, groupBy: 'day' } }),
  'GET /api/v1/reports/top-items': () => ({ query: { ...period, limit: '5' } }),
  'GET /api/v1/reports/payment-mix': () => ({ query: period }),
  'GET /api/v1/reports/low-stock': () => ({ query: { limit: '5' } }),
};

/**
 * A valid request for an operation without a hand-written template (e.g. a module just made by
 * `npm run new:module`), derived from the document: the request body's example, and `limit` for
 * a paged list. Undefined when the document does not give enough (path parameters, no example).
 */
function templateFromDocument(op: Operation): (() => Template) | undefined {
  if (op.path.includes('{')) return undefined;
  const content = op.op.requestBody?.content?.['application/json'] as { example?: unknown } | undefined;
  if (op.op.requestBody && content?.example === undefined) return undefined;
  const query: Record<string, string> = op.query.includes('limit') ? { limit: '5' } : {};
  // Nothing to mutate (no body, no query): not a target of this property.
  if (Object.keys(query).length === 0 && !op.op.requestBody) return undefined;
  return () => ({ ...(content?.example !== undefined ? { body: structuredClone(content.example) as Template['body'] } : {}), ...(Object.keys(query).length ? { query: { ...query } } : {}) });
}

/** Paths (as key lists) of every leaf and every object of a JSON value. */
function pathsOf(value: unknown, at: Array<string | number> = []): { leaves: Array<Array<string | number>>; objects: Array<Array<string | number>> } {
  const out = { leaves: [] as Array<Array<string | number>>, objects: [] as Array<Array<string | number>> };
  if (Array.isArray(value)) value.forEach((v, i) => merge(out, pathsOf(v, [...at, i])));
  else if (value && typeof value === 'object') {
    out.objects.push(at);
    for (const [k, v] of Object.entries(value)) merge(out, pathsOf(v, [...at, k]));
  } else out.leaves.push(at);
  return out;
}
function merge(into: ReturnType<typeof pathsOf>, from: ReturnType<typeof pathsOf>) {
  into.leaves.push(...from.leaves);
  into.objects.push(...from.objects);
}
function setAt(root: any, path: Array<string | number>, value: unknown) {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path.at(-1)!] = value;
}

/** A path segment, percent-encoded as UTF-8 (a lone surrogate becomes U+FFFD, as a browser would send it). */
const encodeSegment = (segment: string) => encodeURIComponent(segment.toWellFormed());

async function send(method: string, path: string, template: Template, token: string | undefined): Promise<ApiResponse> {
  const url = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeSegment(template.params?.[name] ?? ''));
  const qs = new URLSearchParams(template.query ?? {}).toString();
  stats.requests++;
  const res = await t.api.call(method, `${url}${qs ? `?${qs}` : ''}`, template.body, { token });
  if (res.status >= 500) stats.serverErrors++;
  return res;
}

describe('invalid input on every route', () => {
  it('junk: never answers 5xx, always problem+json for errors, and changes nothing', async () => {
    const before = await fingerprint();
    // Values that are wrong for almost any field: wrong types, huge, negative, fractional, odd strings.
    const junk = fc.oneof(anyNasty, fc.constantFrom(-1, 0, 1.5, 1e308, -1e308, '', ' ', 'null', '[]', '{}', '../../etc/passwd'));
    const pathParam = fc.oneof(nastyString.filter((s) => s.length > 0), fc.constantFrom('0', '-1', '00000000-0000-0000-0000-000000000000', 'null', '%2e%2e'));
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            params: pathParam,
            body: junk,
            rawBody: fc.option(fc.string({ unit: 'binary', maxLength: 200 }), { nil: undefined }),
            query: fc.dictionary(fc.constantFrom(...op.query, 'limit', 'cursor', 'x'), queryNasty.map(String), { maxKeys: 3 }),
            auth: fc.constantFrom('owner', 'none', 'garbage'),
          }),
          async ({ params, body, rawBody, query, auth }) => {
            const path = op.path.replace(/\{\w+\}/g, () => encodeSegment(params));
            const qs = new URLSearchParams(query).toString();
            const token = auth === 'owner' ? owner.token : auth === 'garbage' ? 'not.a.jwt' : undefined;
            const withBody = !['GET', 'DELETE'].includes(op.method);
            stats.requests++;
            const res = await t.api.call(op.method, `${path}${qs ? `?${qs}` : ''}`, withBody && rawBody === undefined ? body : undefined, {
              token,
              ...(withBody && rawBody !== undefined ? { raw: rawBody } : {}),
            });
            if (res.status >= 500) stats.serverErrors++;
            expect(res.status, `${op.method} ${path}`).toBeLessThan(500);
            if (res.status >= 400) expect(res.headers.get('content-type'), `${op.method} ${path}`).toMatch(/^application\/problem\+json/);
          },
        ),
        { numRuns: 30, seed: 20261125 },
      );
    }
    expect(await fingerprint()).toEqual(before);
    expect(stats.serverErrors).toBe(0);
  }, 180_000);

  it('one bad field in a valid request: never 5xx; a refusal is a problem and changes nothing', async () => {
    const templateOf = (key: string) => templates[key] ?? templateFromDocument(operations.find((op) => `${op.method} ${op.path}` === key)!);
    const covered = operations.filter((op) => templateOf(`${op.method} ${op.path}`)).map((op) => `${op.method} ${op.path}`);
    // Every operation that takes a body or a query string has a valid template (here, or derived from the document).
    const needing = operations.filter((op) => op.op.requestBody || op.query.length > 0).map((op) => `${op.method} ${op.path}`);
    expect(needing.filter((k) => !covered.includes(k))).toEqual([]);
    let state = await fingerprint();
    for (const key of covered) {
      const [method, path] = key.split(' ') as [string, string];
      const mutation = fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('leaf' as const), pick: fc.nat(), value: anyNasty }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('query' as const), pick: fc.nat(), value: queryNasty.map(String) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('extra' as const), pick: fc.nat(), value: fc.string({ unit: 'binary', minLength: 1, maxLength: 12 }) }) },
      );
      await fc.assert(
        fc.asyncProperty(mutation, async (m) => {
          const template = templateOf(key)!();
          const { leaves, objects } = template.body ? pathsOf(template.body) : { leaves: [], objects: [] };
          const queryKeys = Object.keys(template.query ?? {});
          const inQuery = queryKeys.length > 0 && (m.kind === 'query' || leaves.length === 0);
          if (inQuery) template.query![queryKeys[m.pick % queryKeys.length]!] = String(m.value);
          else if (m.kind === 'extra') setAt(template.body, [...objects[m.pick % objects.length]!, `x_${m.value}`], 1);
          else setAt(template.body, leaves[m.pick % leaves.length]!, m.value);
          stats.mutated++;
          const res = await send(method, path, template, owner.token);
          expect(res.status, `${key} ${JSON.stringify(template)} → ${JSON.stringify(res.body)}`).toBeLessThan(500);
          if (res.status >= 400) {
            stats.refused++;
            expect(res.headers.get('content-type'), key).toMatch(/^application\/problem\+json/);
            expect(await fingerprint(), `${key} ${JSON.stringify(template)} → ${res.status} changed data`).toBe(state);
          } else {
            state = await fingerprint();
          }
        }),
        { numRuns: 40, seed: 20261126 },
      );
    }
    expect(stats.serverErrors).toBe(0);
  }, 240_000);
});

describe('the OpenAPI document of request inputs', () => {
  const resolve = (schema: JsonSchema): JsonSchema =>
    typeof schema.$ref === 'string' ? resolve(doc.components!.schemas![schema.$ref.split('/').at(-1)!]!) : schema;
  /** Lists what is open (objects accepting unknown fields) or unconstrained (strings without pattern/format/enum). */
  function faults(schema: JsonSchema, at: string, closedObjects: boolean): string[] {
    const s = resolve(schema);
    const out: string[] = [];
    for (const k of ['anyOf', 'oneOf', 'allOf'] as const) for (const sub of s[k] ?? []) out.push(...faults(sub, at, closedObjects));
    if (s.type === 'object' || s.properties) {
      if (closedObjects && s.additionalProperties !== false) out.push(`${at}: object accepts unknown fields`);
      for (const [name, sub] of Object.entries<JsonSchema>(s.properties ?? {})) out.push(...faults(sub, `${at}.${name}`, closedObjects));
    }
    if (s.type === 'array' && s.items) out.push(...faults(s.items, `${at}[]`, closedObjects));
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.includes('string') && !s.pattern && !s.format && !s.enum && s.const === undefined) out.push(`${at}: string without pattern, format or enum (NUL would pass)`);
    return out;
  }

  it('closes every body object and constrains every body and query string', () => {
    const found = operations.flatMap((op) => [
      ...Object.values(op.op.requestBody?.content ?? {}).flatMap((c) => faults(c.schema, `${op.method} ${op.path} body`, true)),
      ...(op.op.parameters ?? []).filter((p) => p.in === 'query' && p.schema).flatMap((p) => faults(p.schema!, `${op.method} ${op.path} ?${p.name}`, false)),
    ]);
    expect(found).toEqual([]);
  });
});
