import { expect } from 'vitest';
import type { HttpClient } from './http-client.ts';

let counter = 0;
const unique = () => `${Date.now().toString(36)}${(counter++).toString(36)}`;

/** A signed-up tenant: its owner's token plus the signup response. */
export interface TenantFixture {
  token: string;
  tenant: { id: string; slug: string; currency: string; taxRateBps: number };
  user: { id: string; email: string };
  password: string;
}

/** Signs up a new restaurant through the API; asserts the 201. */
export async function signup(api: HttpClient, overrides: Record<string, unknown> = {}): Promise<TenantFixture> {
  const password = 'correct horse battery';
  const res = await api.post('/api/v1/auth/signup', {
    restaurantName: `Test Bistro ${unique()}`,
    currency: 'USD',
    email: `owner-${unique()}@example.com`,
    password,
    ...overrides,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { token: res.body.accessToken, tenant: res.body.tenant, user: res.body.user, password };
}

/** Adds a staff member and logs them in; returns their token. */
export async function staff(api: HttpClient, owner: TenantFixture, role: 'manager' | 'cashier'): Promise<string> {
  const email = `${role}-${unique()}@example.com`;
  const created = await api.post('/api/v1/auth/users', { email, password: owner.password, role }, { token: owner.token });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const login = await api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email, password: owner.password });
  expect(login.status).toBe(200);
  return login.body.accessToken;
}

/** A restaurant with its owner, plus a logged-in manager and cashier. */
export async function team(api: HttpClient): Promise<{ owner: TenantFixture; managerToken: string; cashierToken: string }> {
  const owner = await signup(api);
  return { owner, managerToken: await staff(api, owner, 'manager'), cashierToken: await staff(api, owner, 'cashier') };
}

/** Creates a menu item; asserts the 201 and returns its body. */
export async function menuItem(api: HttpClient, token: string, body: Record<string, unknown> = {}) {
  const res = await api.post('/api/v1/restaurant/menu-items', { name: `Dish ${unique()}`, price: 1000, ...body }, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; name: string; price: number; currency: string; sku: string | null };
}

/** Sets the stock of a menu item; asserts the 200. */
export async function setStock(api: HttpClient, token: string, menuItemId: string, onHand: number, lowStockThreshold?: number) {
  const res = await api.put(`/api/v1/inventory/items/${menuItemId}`, { onHand, ...(lowStockThreshold !== undefined ? { lowStockThreshold } : {}) }, { token });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

/** Current on-hand stock of a tracked item, read over the API. */
export async function onHand(api: HttpClient, token: string, menuItemId: string): Promise<number> {
  const res = await api.get(`/api/v1/inventory/items/${menuItemId}`, { token });
  expect(res.status).toBe(200);
  return res.body.onHand;
}

/** Asserts an RFC 9457 problem response with `status` (and `type` suffix when given). */
export function expectProblem(res: { status: number; headers: Headers; body: any }, status: number, type?: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status, title: expect.any(String), detail: expect.any(String), type: expect.any(String) });
  if (type) expect(res.body.type).toBe(`urn:problem:pos:${type}`);
}

/**
 * Walks a cursor-paginated list endpoint (`{items, nextCursor}`) page by page with `limit`,
 * asserting a 200 and at most `limit` items per page; returns every page's items in order.
 * `path` may already carry a query string (e.g. `?category=drinks`).
 */
export async function walkPages<T = any>(api: HttpClient, path: string, token: string, limit: number, maxPages = 100): Promise<{ pages: T[][]; items: T[] }> {
  const pages: T[][] = [];
  let cursor: string | null = null;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const url: string = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api.get(url, { token });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.items.length).toBeLessThanOrEqual(limit);
    pages.push(res.body.items);
    cursor = res.body.nextCursor;
    if (pages.length > maxPages) throw new Error(`walkPages: more than ${maxPages} pages at ${path}`);
  } while (cursor !== null);
  return { pages, items: pages.flat() };
}

/** The decoded (unverified) payload of a JWT, for asserting its claims. */
export function jwtClaims(token: string): Record<string, any> {
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
}

/**
 * Polls `check` until it stops throwing or `timeoutMs` passes (then rethrows its last error):
 * for results that arrive asynchronously, e.g. read models built from domain events.
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 5000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
