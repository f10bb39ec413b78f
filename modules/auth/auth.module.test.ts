import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../shared/ids.ts';
import { expectProblem, jwtClaims } from '../../test/support/fixtures.ts';
import { bootModule, type ModuleTest } from '../../test/support/module-test.ts';
import type { AuthGateway } from './gateway.ts';
import authModule, { createSessionChecker, type SessionChecker } from './index.ts';

/**
 * The auth module alone (it uses no other module). Unlike the other module tests, the guard asks
 * auth's own session checker, as in the whole app, so logout and deactivation are seen at once.
 */

let t: ModuleTest<AuthGateway>;
beforeAll(async () => {
  let checker: SessionChecker | undefined;
  t = await bootModule(authModule, {
    sessionCheck: (app) => (checker = createSessionChecker(app.runInTenant)).check,
    options: () => ({
      loginRateLimit: { perIpPerMinute: 10_000, perAccountPerMinute: 10_000 },
      signupRateLimitPerIpPerHour: 10_000,
      passwordHashing: { concurrency: 2, queue: 32 },
      refreshTokenTtlSeconds: 3600,
      sessionChecker: checker!,
    }),
  });
});
afterAll(() => t?.close());

const password = 'correct horse battery';
const signup = async (overrides: Record<string, unknown> = {}) => {
  const res = await t.api.post('/api/v1/auth/signup', {
    restaurantName: 'Chez Module',
    currency: 'EUR',
    email: `owner-${newId()}@example.com`,
    password,
    taxRateBps: 700,
    ...overrides,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { accessToken: string; refreshToken: string; tenant: { id: string; slug: string }; user: { email: string } };
};

describe('auth module alone', () => {
  it('signs up a restaurant whose profile other modules get through the gateway', async () => {
    const owner = await signup({ timeZone: 'Europe/Paris' });
    expect(jwtClaims(owner.accessToken)).toMatchObject({ tid: owner.tenant.id, role: 'owner' });
    const profile = await t.app.runInTenant(owner.tenant.id, (uow) => t.gateway.getTenant(uow));
    expect(profile).toEqual({ id: owner.tenant.id, slug: owner.tenant.slug, name: 'Chez Module', currency: 'EUR', taxRateBps: 700, timeZone: 'Europe/Paris' });
    expect(await t.gateway.tenantIds()).toContain(owner.tenant.id);
    const unknown = await t.app.runInTenant(newId(), (uow) => t.gateway.getTenant(uow)).catch((e: unknown) => e);
    expect(unknown).toMatchObject({ status: 404 });
  });

  it('logs staff in by tenant slug, email and password; a wrong password is a 401', async () => {
    const owner = await signup();
    const login = await t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: owner.user.email, password });
    expect(login.status).toBe(200);
    const me = await t.api.get('/api/v1/auth/me', { token: login.body.accessToken });
    expect(me.body).toMatchObject({ tenantId: owner.tenant.id, email: owner.user.email, role: 'owner' });
    expectProblem(await t.api.post('/api/v1/auth/login', { tenant: owner.tenant.slug, email: owner.user.email, password: 'not the password!' }), 401);
  });

  it('logout ends the session: its access token stops working before it expires', async () => {
    const owner = await signup();
    expect((await t.api.get('/api/v1/auth/me', { token: owner.accessToken })).status).toBe(200);
    expect((await t.api.post('/api/v1/auth/logout', { refreshToken: owner.refreshToken })).status).toBe(204);
    expectProblem(await t.api.get('/api/v1/auth/me', { token: owner.accessToken }), 401);
  });
});
