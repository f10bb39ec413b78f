import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { menuItem, signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * The menu read cache is bounded by memory, not by entry count (READ_CACHE_MAX_BYTES): many
 * tenants' pages past a small cap keep its estimated size under the cap, and every read still
 * answers the right menu (from the cache or, once evicted, from the database).
 */
const MENU = '/api/v1/restaurant/menu-items';
const MAX_BYTES = 32 * 1024;
const TENANTS = 10;
const ITEMS = 10;

describe('read cache bounded by bytes', () => {
  let t: TestApp;
  const tenants: Array<{ owner: TenantFixture; names: string[] }> = [];
  beforeAll(async () => {
    t = await startTestApp({ env: { READ_CACHE_MAX_BYTES: String(MAX_BYTES) } });
    for (let i = 0; i < TENANTS; i++) {
      const owner = await signup(t.api);
      const names: string[] = [];
      for (let j = 0; j < ITEMS; j++) names.push((await menuItem(t.api, owner.token, { name: `${'Dish with a long name '.repeat(4)}${i}-${j}`.slice(0, 120) })).name);
      tenants.push({ owner, names });
    }
  });
  afterAll(() => t?.close());

  const menuStats = () => t.app.readCacheStats()['restaurant.menu-pages']!;

  it('keeps the estimated size under READ_CACHE_MAX_BYTES while pages past it are read, and reads stay right', async () => {
    expect(menuStats().maxBytes).toBe(MAX_BYTES);
    let served = 0;
    for (const { owner, names } of tenants) {
      for (let limit = 1; limit <= ITEMS; limit++) {
        const res = await t.api.get(`${MENU}?limit=${limit}`, { token: owner.token });
        expect(res.status).toBe(200);
        expect(res.body.items.map((i: { name: string }) => i.name)).toEqual(names.slice(0, limit));
        served += JSON.stringify(res.body).length;
        const stats = menuStats();
        expect(stats.bytes).toBeLessThanOrEqual(MAX_BYTES);
      }
    }
    // The cap was really exercised: far more was served than it holds, and it holds something.
    expect(served).toBeGreaterThan(3 * MAX_BYTES);
    const stats = menuStats();
    expect(stats.entries).toBeGreaterThan(0);
    expect(stats.bytes).toBeGreaterThan(MAX_BYTES / 2);
    // The earliest tenants were evicted; their reads still answer (reloaded), and are cached again.
    const first = tenants[0]!;
    const again = await t.api.get(`${MENU}?limit=${ITEMS}`, { token: first.owner.token });
    expect(again.body.items.map((i: { name: string }) => i.name)).toEqual(first.names);
    expect(menuStats().bytes).toBeLessThanOrEqual(MAX_BYTES);
  });
});
