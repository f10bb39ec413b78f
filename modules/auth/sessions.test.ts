import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, signup, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
let owner: TenantFixture;
beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api);
});
afterAll(() => t?.close());

const login = (email: string, password: string, tenant = owner.tenant.slug) => t.api.post('/api/v1/auth/login', { tenant, email, password });

describe('sessions: short-lived access tokens, rotating refresh tokens', () => {
  it('login gives a 15-minute access token and a refresh token', async () => {
    const res = await login(owner.user.email, owner.password);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', expiresIn: 900, refreshToken: expect.stringContaining(`${owner.tenant.id}.`), refreshExpiresIn: 30 * 86_400 });
    const claims = JSON.parse(Buffer.from(res.body.accessToken.split('.')[1], 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(900);
  });

  it('refresh rotates: the new pair works, the old refresh token is spent', async () => {
    const first = (await login(owner.user.email, owner.password)).body;
    const second = await t.api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken });
    expect(second.status).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.refreshToken);
    expect((await t.api.get('/api/v1/auth/me', { token: second.body.accessToken })).status).toBe(200);
    const third = await t.api.post('/api/v1/auth/refresh', { refreshToken: second.body.refreshToken });
    expect(third.status).toBe(200);
  });

  it('reusing a rotated refresh token revokes the whole family (stolen-token detection)', async () => {
    const first = (await login(owner.user.email, owner.password)).body;
    const rotated = (await t.api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken })).body;
    // An attacker replays the old token: refused, and the legitimate newer token dies with it.
    expectProblem(await t.api.post('/api/v1/auth/refresh', { refreshToken: first.refreshToken }), 401, 'invalid-refresh-token');
    expectProblem(await t.api.post('/api/v1/auth/refresh', { refreshToken: rotated.refreshToken }), 401, 'invalid-refresh-token');
    // Other sessions of the same user are untouched.
    const other = (await login(owner.user.email, owner.password)).body;
    expect((await t.api.post('/api/v1/auth/refresh', { refreshToken: other.refreshToken })).status).toBe(200);
  });

  it('logout ends the session; logout is 204 even for an unknown token', async () => {
    const session = (await login(owner.user.email, owner.password)).body;
    const out = await t.api.post('/api/v1/auth/logout', { refreshToken: session.refreshToken });
    expect(out.status).toBe(204);
    expectProblem(await t.api.post('/api/v1/auth/refresh', { refreshToken: session.refreshToken }), 401);
    expect((await t.api.post('/api/v1/auth/logout', { refreshToken: 'nonsense' })).status).toBe(204);
  });

  it('malformed, forged or foreign refresh tokens are 401', async () => {
    for (const refreshToken of ['x', `${owner.tenant.id}.${'A'.repeat(43)}`, `00000000-0000-7000-8000-000000000000.${'B'.repeat(43)}`]) {
      expectProblem(await t.api.post('/api/v1/auth/refresh', { refreshToken }), 401);
    }
    expectProblem(await t.api.post('/api/v1/auth/refresh', {}), 400);
  });
});

describe('deactivating a staff member', () => {
  it('ends their sessions and refuses their login; reactivation lets them back in', async () => {
    const email = `deact-${Date.now()}@example.com`;
    const created = await t.api.post('/api/v1/auth/users', { email, password: owner.password, role: 'cashier' }, { token: owner.token });
    const session = (await login(email, owner.password)).body;

    const off = await t.api.patch(`/api/v1/auth/users/${created.body.id}`, { active: false }, { token: owner.token });
    expect(off.status).toBe(200);
    expect(off.body.active).toBe(false);
    expectProblem(await t.api.post('/api/v1/auth/refresh', { refreshToken: session.refreshToken }), 401);
    expectProblem(await login(email, owner.password), 401, 'invalid-credentials');
    expectProblem(await t.api.get('/api/v1/auth/me', { token: session.accessToken }), 401);

    expect((await t.api.patch(`/api/v1/auth/users/${created.body.id}`, { active: true }, { token: owner.token })).status).toBe(200);
    expect((await login(email, owner.password)).status).toBe(200);
  });

  it('managers manage only cashiers; nobody changes an owner or themselves', async () => {
    const managerEmail = `mgr-${Date.now()}@example.com`;
    const manager = await t.api.post('/api/v1/auth/users', { email: managerEmail, password: owner.password, role: 'manager' }, { token: owner.token });
    const managerToken = (await login(managerEmail, owner.password)).body.accessToken;
    const otherManager = await t.api.post('/api/v1/auth/users', { email: `mgr2-${Date.now()}@example.com`, password: owner.password, role: 'manager' }, { token: owner.token });
    expectProblem(await t.api.patch(`/api/v1/auth/users/${otherManager.body.id}`, { active: false }, { token: managerToken }), 403);
    expectProblem(await t.api.patch(`/api/v1/auth/users/${owner.user.id}`, { active: false }, { token: managerToken }), 403);
    expectProblem(await t.api.patch(`/api/v1/auth/users/${manager.body.id}`, { active: false }, { token: managerToken }), 403);
    expectProblem(await t.api.patch(`/api/v1/auth/users/00000000-0000-7000-8000-000000000000`, { active: false }, { token: owner.token }), 404);
    // Another tenant's staff is not found.
    const other = await signup(t.api);
    expectProblem(await t.api.patch(`/api/v1/auth/users/${manager.body.id}`, { active: false }, { token: other.token }), 404);
  });
});

describe('login rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await startTestApp({ env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOGIN_RATE_LIMIT_PER_IP: '8' } });
  });
  afterAll(() => limited?.close());

  it('per tenant + email: the 4th attempt in a minute is a 429 problem with Retry-After, even with the right password', async () => {
    const shop = await signup(limited.api);
    const attempt = (password: string) => limited.api.post('/api/v1/auth/login', { tenant: shop.tenant.slug, email: shop.user.email, password });
    for (let i = 0; i < 3; i++) expect((await attempt('wrong-password')).status).toBe(401);
    const blocked = await attempt(shop.password);
    expectProblem(blocked, 429, 'rate-limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('per IP: many accounts from one address are cut off too', async () => {
    const statuses = [];
    for (let i = 0; i < 10; i++) {
      statuses.push((await limited.api.post('/api/v1/auth/login', { tenant: 'nope', email: `user${i}@example.com`, password: 'wrong-password' })).status);
    }
    expect(statuses).toContain(429);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(8);
  });
});
