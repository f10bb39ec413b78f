import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readModules } from '../scripts/arch-graph.ts';
import { diskTree } from '../scripts/module-canvas.ts';
import { REPO_ROOT } from '../scripts/repo-root.ts';
import { ROLES, type Role } from '../shared/auth-guard.ts';
import { menuItem, setStock, signup, staff, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * The permission matrix is declared once, on the routes (`config.roles`). This walks every
 * guarded route the app registered and checks it against each role, no token, and another
 * tenant; and checks that OpenAPI documents the same roles.
 */
let t: TestApp;
let owner: TenantFixture;
let tokens: Record<Role, string>;
let intruder: TenantFixture;
let realIds: Record<string, string>;
const NOBODY = '00000000-0000-7000-8000-000000000000';
let checked = 0;

beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api);
  tokens = { owner: owner.token, manager: await staff(t.api, owner, 'manager'), cashier: await staff(t.api, owner, 'cashier') };
  intruder = await signup(t.api);
  const item = await menuItem(t.api, owner.token);
  await setStock(t.api, owner.token, item.id, 5);
  const order = await t.api.post('/api/v1/orders', { items: [{ menuItemId: item.id, quantity: 1 }], payment: { method: 'cash', tendered: 5000 } }, { token: owner.token });
  const users = await t.api.get('/api/v1/auth/users', { token: owner.token });
  realIds = {
    '/api/v1/restaurant/menu-items/:id': item.id,
    '/api/v1/inventory/items/:menuItemId': item.id,
    '/api/v1/inventory/items/:menuItemId/adjustments': item.id,
    '/api/v1/orders/:id': order.body.id,
    '/api/v1/orders/:id/cancel': order.body.id,
    '/api/v1/payments/:id': order.body.payment.id,
    '/api/v1/auth/users/:id': users.body.items.find((u: { role: string }) => u.role === 'cashier').id,
  };
});
afterAll(() => {
  console.log(`permission matrix: ${t.app.permissionMatrix().length} guarded routes, ${checked} route × caller checks`);
  return t?.close();
});

const fill = (url: string, id: string) => url.replace(/:[a-zA-Z]+/g, id);
// A body that fails validation: allowed callers get a 400 (or 404 for an unknown id) and change nothing.
const call = (method: string, path: string, token?: string) => t.api.call(method, path, ['GET', 'DELETE'].includes(method) ? undefined : { invalid: true }, { token });

describe('the permission matrix', () => {
  it('covers every /api/v1 route except signup, login, refresh and logout', () => {
    const guarded = new Set(t.app.permissionMatrix().map((p) => `${p.method} ${p.url}`));
    const doc = t.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const apiRoutes = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
    const publicRoutes = apiRoutes.filter((r) => !guarded.has(r));
    expect(publicRoutes.sort()).toEqual(['POST /api/v1/auth/login', 'POST /api/v1/auth/logout', 'POST /api/v1/auth/refresh', 'POST /api/v1/auth/signup']);
  });

  it('is documented in OpenAPI on every guarded route (x-roles, bearer security, description)', () => {
    const doc = t.app.swagger() as { paths: Record<string, Record<string, any>> };
    for (const p of t.app.permissionMatrix()) {
      const op = doc.paths[p.url.replace(/:(\w+)/g, '{$1}')]?.[p.method.toLowerCase()];
      expect(op, `${p.method} ${p.url}`).toBeDefined();
      expect(op['x-roles']).toEqual(p.roles);
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(op.description).toContain(`**Roles:** ${p.roles.join(', ')}`);
    }
  });

  it('is what the module canvas (docs/modules.md) shows: the routes read from the code statically, with their roles', () => {
    const fromCode = readModules(diskTree(REPO_ROOT))
      .flatMap((m) => m.facts.routes)
      // An extracted module's internal API is served by its service (src/service-app.ts), not here.
      .filter((r) => r.access !== 'service')
      .map((r) => `${r.method} ${r.url} ${r.access === 'public' ? 'public' : (r.access === 'any' ? ROLES : (r.access as readonly string[])).join(',')}`)
      .sort();
    const doc = t.app.swagger() as { paths: Record<string, Record<string, { 'x-roles'?: string[] }>> };
    const served = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')} ${op['x-roles']?.join(',') ?? 'public'}`))
      .sort();
    expect(served.length).toBeGreaterThan(20);
    expect(fromCode).toEqual(served);
  });

  it('answers 401 without a token, 403 to roles not allowed, and lets allowed roles through', async () => {
    for (const p of t.app.permissionMatrix()) {
      const path = fill(p.url, NOBODY);
      const anonymous = await call(p.method, path);
      expect(anonymous.status, `${p.method} ${p.url} without token`).toBe(401);
      checked++;
      for (const role of ROLES) {
        const res = await call(p.method, path, tokens[role]);
        checked++;
        if (p.roles.includes(role)) expect([401, 403], `${p.method} ${p.url} as ${role}`).not.toContain(res.status);
        else expect(res.status, `${p.method} ${p.url} as ${role}`).toBe(403);
      }
    }
  });

  it("gives another tenant's owner a 404 for this tenant's ids on every route with an id", async () => {
    for (const p of t.app.permissionMatrix().filter((r) => r.url.includes(':'))) {
      const id = realIds[p.url];
      expect(id, `a real id for ${p.url}`).toBeDefined();
      const res = await t.api.call(p.method, fill(p.url, id!), ['GET', 'DELETE'].includes(p.method) || p.url.endsWith('/cancel') ? undefined : validBody(p.url), { token: intruder.token });
      checked++;
      expect(res.status, `${p.method} ${p.url} as another tenant`).toBe(404);
    }
  });
});

/** A valid body per route with an id, so that only tenancy can make it fail. */
function validBody(url: string): unknown {
  if (url.endsWith('/adjustments')) return { delta: 1, reason: 'delivery' };
  if (url.startsWith('/api/v1/inventory')) return { onHand: 1 };
  if (url.startsWith('/api/v1/restaurant')) return { price: 1 };
  if (url.startsWith('/api/v1/auth/users')) return { active: false };
  return {};
}
