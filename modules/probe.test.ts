import { afterAll, beforeAll, it } from 'vitest';
import { signup, staff, menuItem } from '/work/main/test/support/fixtures.ts';
import { startTestApp, type TestApp } from '/work/main/test/support/test-app.ts';
let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(() => t?.close());
it('probe', async () => {
  const o = await signup(t.api);
  const c = await staff(t.api, o, 'cashier');
  console.log((await t.api.post('/api/v1/auth/users', { email: 'x' })).status);
  console.log((await t.api.post('/api/v1/auth/users', { email: 'x' }, {token: c})).status);
  console.log((await t.api.get('/api/v1/auth/users?limit=0')).status);
  console.log((await t.api.post('/api/v1/restaurant/menu-items', { price: 1.5 }, {token: c})).status);
  const m = await menuItem(t.api, o.token);
  console.log((await t.api.put('/api/v1/inventory/items/'+m.id, { onHand: -1 }, {token: c})).status);
});
