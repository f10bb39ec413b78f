import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthGateway, TenantProfile } from '../auth/gateway.ts';
import { problems } from '../../shared/problem-details.ts';
import { expectProblem } from '../../test/support/fixtures.ts';
import { bootModule, stubGateway, type ModuleTest, type TestTenant } from '../../test/support/module-test.ts';
import type { RestaurantGateway } from './gateway.ts';
import restaurantModule from './index.ts';

/** The restaurant module alone: auth is a stub that knows each test's tenant (its currency). */

const tenants = new Map<string, TenantProfile>();
const auth = stubGateway<AuthGateway>('auth', {
  async getTenant(uow) {
    const profile = tenants.get(uow.tenantId);
    if (!profile) throw problems.notFound('The tenant of this token does not exist.');
    return profile;
  },
});

let t: ModuleTest<RestaurantGateway>;
/** Items the other modules (played by these tests) say they still reference, and what they were told was deleted. */
const referenced = new Set<string>();
const deleted: string[] = [];
let failDeletionHook = false;
beforeAll(async () => {
  t = await bootModule(restaurantModule, { deps: { auth } });
  t.gateway.registerReferenceCheck(async (_uow, id) => referenced.has(id));
  t.gateway.registerDeletionHook(async (_uow, id) => {
    if (failDeletionHook) throw new Error('the deletion hook failed');
    deleted.push(id);
  });
});
afterAll(() => t?.close());

function restaurant(currency = 'EUR'): TestTenant {
  const tenant = t.tenant();
  tenants.set(tenant.id, { id: tenant.id, slug: `r-${tenant.id}`, name: 'R', currency, taxRateBps: 0, timeZone: 'UTC' });
  return tenant;
}

const create = async (tenant: TestTenant, body: Record<string, unknown> = {}) => {
  const res = await t.api.post('/api/v1/restaurant/menu-items', { name: 'Tiramisu', price: 650, ...body }, { token: tenant.token });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; currency: string; price: number };
};

describe('restaurant module alone (stubbed auth)', () => {
  it('prices a new item in the currency the auth gateway gives, and quotes it through its gateway to its tenant only', async () => {
    const tenant = restaurant('JPY');
    const item = await create(tenant, { price: 900 });
    expect(item).toMatchObject({ currency: 'JPY', price: 900, available: true });
    const quotes = await t.app.runInTenant(tenant.id, (uow) => t.gateway.findMenuItems(uow, [item.id]));
    expect(quotes.get(item.id)).toMatchObject({ id: item.id, name: 'Tiramisu', price: 900, currency: 'JPY', available: true });
    const other = restaurant();
    expect((await t.app.runInTenant(other.id, (uow) => t.gateway.findMenuItems(uow, [item.id]))).size).toBe(0);
    expectProblem(await t.api.get(`/api/v1/restaurant/menu-items/${item.id}`, { token: other.token }), 404);
  });

  it('owners and managers change the menu; cashiers only read it', async () => {
    const tenant = restaurant();
    const cashier = tenant.tokenFor({ role: 'cashier' });
    expectProblem(await t.api.post('/api/v1/restaurant/menu-items', { name: 'Soup', price: 400 }, { token: cashier }), 403);
    const item = await create(tenant);
    expect((await t.api.get(`/api/v1/restaurant/menu-items/${item.id}`, { token: cashier })).status).toBe(200);
    const patched = await t.api.patch(`/api/v1/restaurant/menu-items/${item.id}`, { price: 700 }, { token: tenant.tokenFor({ role: 'manager' }) });
    expect(patched.body.price).toBe(700);
  });

  it('deleting an item another module references archives it; otherwise it is deleted and the deletion hooks are told', async () => {
    const tenant = restaurant();
    const kept = await create(tenant);
    referenced.add(kept.id);
    expect((await t.api.delete(`/api/v1/restaurant/menu-items/${kept.id}`, { token: tenant.token })).status).toBe(204);
    expect((await t.api.get(`/api/v1/restaurant/menu-items/${kept.id}`, { token: tenant.token })).body).toMatchObject({ available: false });
    expect(deleted).not.toContain(kept.id);

    const gone = await create(tenant);
    expect((await t.api.delete(`/api/v1/restaurant/menu-items/${gone.id}`, { token: tenant.token })).status).toBe(204);
    expectProblem(await t.api.get(`/api/v1/restaurant/menu-items/${gone.id}`, { token: tenant.token }), 404);
    expect(deleted).toContain(gone.id);
  });

  it('a deletion hook that fails rolls the deletion back (same unit of work)', async () => {
    const tenant = restaurant();
    const item = await create(tenant);
    failDeletionHook = true;
    try {
      expect((await t.api.delete(`/api/v1/restaurant/menu-items/${item.id}`, { token: tenant.token })).status).toBe(500);
    } finally {
      failDeletionHook = false;
    }
    expect((await t.api.get(`/api/v1/restaurant/menu-items/${item.id}`, { token: tenant.token })).status).toBe(200);
    expect(t.logs().some((line) => line.includes('the deletion hook failed'))).toBe(true);
  });
});
