import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MenuItemDeletionHook, MenuItemQuote, RestaurantGateway } from '../restaurant/gateway.ts';
import { newId } from '../../shared/ids.ts';
import { expectProblem } from '../../test/support/fixtures.ts';
import { bootModule, stubGateway, type ModuleTest, type TestTenant } from '../../test/support/module-test.ts';
import type { InventoryGateway, StockLevelChanged, StockTrackingStopped } from './gateway.ts';
import inventoryModule from './index.ts';

/**
 * The inventory module alone: restaurant is a stub that knows the menu items of these tests (per
 * tenant) and hands the test the deletion hook inventory registers with it.
 */

const menus = new Map<string, Set<string>>();
const deletionHooks: MenuItemDeletionHook[] = [];
const restaurant = stubGateway<RestaurantGateway>('restaurant', {
  async findMenuItems(uow, ids) {
    const known = menus.get(uow.tenantId) ?? new Set();
    const quote = (id: string): MenuItemQuote => ({ id, name: `Item ${id.slice(-4)}`, price: 100, currency: 'USD', available: true });
    return new Map(ids.filter((id) => known.has(id)).map((id) => [id, quote(id)]));
  },
  registerDeletionHook: (hook) => void deletionHooks.push(hook),
});

let t: ModuleTest<InventoryGateway>;
beforeAll(async () => {
  t = await bootModule(inventoryModule, { deps: { restaurant } });
});
afterAll(() => t?.close());

/** A tenant whose restaurant (the stub) has one menu item. */
function withItem(): { tenant: TestTenant; item: string } {
  const tenant = t.tenant();
  const item = newId();
  menus.set(tenant.id, new Set([item]));
  return { tenant, item };
}

describe('inventory module alone (stubbed restaurant)', () => {
  it('tracks stock only of menu items the restaurant gateway knows, and publishes each change', async () => {
    const { tenant, item } = withItem();
    expectProblem(await t.api.put(`/api/v1/inventory/items/${newId()}`, { onHand: 5 }, { token: tenant.token }), 404);
    const event = await t.scenario
      .stimulate(() => t.api.put(`/api/v1/inventory/items/${item}`, { onHand: 5, lowStockThreshold: 5 }, { token: tenant.token }))
      .andWaitForEvent<StockLevelChanged>('StockLevelChanged', (e) => e.payload.menuItemId === item);
    expect(event).toMatchObject({ tenantId: tenant.id, payload: { onHand: 5, lowStockThreshold: 5, lowStock: true, version: 1 } });
    expectProblem(await t.api.put(`/api/v1/inventory/items/${item}`, { onHand: 1 }, { token: tenant.tokenFor({ role: 'cashier' }) }), 403);
    // Another tenant does not see it, even with the same item id.
    expectProblem(await t.api.get(`/api/v1/inventory/items/${item}`, { token: t.tenant().token }), 404);
  });

  it('takeStock (gateway) refuses what is not on hand with 409 insufficient-stock and takes nothing; restoreStock gives back what a sale took', async () => {
    const { tenant, item } = withItem();
    await t.api.put(`/api/v1/inventory/items/${item}`, { onHand: 3 }, { token: tenant.token });
    const untracked = newId();
    const refused = await t.app
      .runInTenant(tenant.id, (uow) => t.gateway.takeStock(uow, [{ menuItemId: item, quantity: 4 }], { orderId: newId() }))
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 409, type: 'urn:problem:pos:insufficient-stock', extensions: { menuItemId: item, onHand: 3, requested: 4 } });
    const orderId = newId();
    const taken = await t.app.runInTenant(tenant.id, (uow) =>
      t.gateway.takeStock(uow, [{ menuItemId: item, quantity: 2 }, { menuItemId: untracked, quantity: 9 }], { orderId }),
    );
    expect(taken).toEqual([{ menuItemId: item, onHand: 1, lowStockThreshold: expect.any(Number) }]);
    expect((await t.api.get(`/api/v1/inventory/items/${item}`, { token: tenant.token })).body.onHand).toBe(1);
    await t.app.runInTenant(tenant.id, (uow) => t.gateway.restoreStock(uow, { orderId }));
    expect((await t.api.get(`/api/v1/inventory/items/${item}`, { token: tenant.token })).body.onHand).toBe(3);
  });

  it('forgets the stock of an item the restaurant deletes (its deletion hook) and publishes StockTrackingStopped', async () => {
    const { tenant, item } = withItem();
    await t.api.put(`/api/v1/inventory/items/${item}`, { onHand: 7 }, { token: tenant.token });
    expect(deletionHooks).toHaveLength(1);
    const stopped = await t.scenario
      .stimulate(() => t.app.runInTenant(tenant.id, (uow) => deletionHooks[0]!(uow, item)))
      .andWaitForEvent<StockTrackingStopped>('StockTrackingStopped', (e) => e.payload.menuItemId === item);
    expect(stopped.tenantId).toBe(tenant.id);
    expectProblem(await t.api.get(`/api/v1/inventory/items/${item}`, { token: tenant.token }), 404);
  });
});
