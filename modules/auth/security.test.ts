import argon2 from 'argon2';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { eventually, expectProblem, jwtClaims, signup, type TenantFixture } from '../../test/support/fixtures.ts';
import { startTestApp, startTwoInstances, type TwoInstances, type ApiResponse, type TestApp } from '../../test/support/test-app.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from '../../test/support/test-database.ts';
import { loadConfig } from '../../shared/config.ts';
import { authRepository } from './repository.ts';

const SIGNUP = '/api/v1/auth/signup';
const LOGIN = '/api/v1/auth/login';
const ME = '/api/v1/auth/me';
const USERS = '/api/v1/auth/users';
const MENU = '/api/v1/restaurant/menu-items';
const SECRET = 'test-secret-that-is-at-least-32-characters-long';

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const email = (prefix = 'user') => `${prefix}-${uniq()}@example.com`;
const now = () => Math.floor(Date.now() / 1000);

/** Signs an HS256 JWT by hand with `secret` (tokens the app itself would never issue). */
function signHs256(payload: object, secret = SECRET): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc({ alg: 'HS256', typ: 'JWT' })}.${enc(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/**
 * POSTs JSON from a chosen local address (127.0.0.2 is loopback too on Linux): the app sees
 * another client IP without trusting any proxy header.
 */
function postFrom(localAddress: string, baseUrl: string, path: string, body: unknown): Promise<ApiResponse> {
  const url = new URL(path, baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
          resolve({ status: res.statusCode!, headers, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Adds a staff member through `owner` and logs them in; returns the whole login response body. */
async function addAndLogin(t: TestApp, owner: TenantFixture, role: 'manager' | 'cashier') {
  const staffEmail = email(role);
  const created = await t.api.post(USERS, { email: staffEmail, password: owner.password, role }, { token: owner.token });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: staffEmail, password: owner.password });
  expect(login.status).toBe(200);
  return { id: created.body.id as string, email: staffEmail, ...login.body };
}

/** Polls until `read()` answers 401; returns the milliseconds it took. */
async function msUntil401(read: () => Promise<ApiResponse>, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  await eventually(async () => expect((await read()).status).toBe(401), timeoutMs, 100);
  return Date.now() - started;
}

describe.skipIf(!onRealPostgres())('revocation reaches every instance within 5 s (two app instances, one database)', () => {
  let instances: TwoInstances;
  let a: TestApp;
  let b: TestApp;
  let owner: TenantFixture;
  beforeAll(async () => {
    instances = await startTwoInstances();
    ({ a, b } = instances);
    owner = await signup(a.api);
  });
  afterAll(async () => {
    await instances?.close();
  });

  it('a manager deactivated on instance A is refused on instance B (reads and staff writes)', async () => {
    const manager = await addAndLogin(a, owner, 'manager');
    // B has seen the token and found it good (and may have cached that).
    expect((await b.api.get(MENU, { token: manager.accessToken })).status).toBe(200);
    expect((await b.api.get(USERS, { token: manager.accessToken })).status).toBe(200);

    expect((await a.api.patch(`${USERS}/${manager.id}`, { active: false }, { token: owner.token })).status).toBe(200);
    const ms = await msUntil401(() => b.api.get(MENU, { token: manager.accessToken }));
    console.log(`deactivation → 401 on the other instance after ${ms} ms`);
    // The deactivated manager can no longer add a cashier, on either instance.
    const sneaky = email('sneaky');
    expectProblem(await b.api.post(USERS, { email: sneaky, password: owner.password, role: 'cashier' }, { token: manager.accessToken }), 401);
    expectProblem(await a.api.post(USERS, { email: sneaky, password: owner.password, role: 'cashier' }, { token: manager.accessToken }), 401);
    const staffList = await a.api.get(`${USERS}?limit=100`, { token: owner.token });
    expect(staffList.body.items.map((u: { email: string }) => u.email)).not.toContain(sneaky);

    // Reactivation does not bring the old sessions back; a new login works.
    expect((await a.api.patch(`${USERS}/${manager.id}`, { active: true }, { token: owner.token })).status).toBe(200);
    expectProblem(await b.api.get(MENU, { token: manager.accessToken }), 401);
    const again = await b.api.post(LOGIN, { tenant: owner.tenant.slug, email: manager.email, password: owner.password });
    expect((await a.api.get(MENU, { token: again.body.accessToken })).status).toBe(200);
  });

  it('logout on A ends that session’s access token on B; the user’s other session keeps working', async () => {
    const first = await addAndLogin(a, owner, 'cashier');
    const second = (await a.api.post(LOGIN, { tenant: owner.tenant.slug, email: first.email, password: owner.password })).body;
    expect((await b.api.get(MENU, { token: first.accessToken })).status).toBe(200);

    expect((await a.api.post('/api/v1/auth/logout', { refreshToken: first.refreshToken })).status).toBe(204);
    const ms = await msUntil401(() => b.api.get(MENU, { token: first.accessToken }));
    console.log(`logout → 401 on the other instance after ${ms} ms`);
    expect((await b.api.get(MENU, { token: second.accessToken })).status).toBe(200);
    expect((await a.api.get(ME, { token: second.accessToken })).status).toBe(200);
  });

  it('a refreshed session keeps working: the new access token carries the same session', async () => {
    const cashier = await addAndLogin(a, owner, 'cashier');
    const refreshed = await b.api.post('/api/v1/auth/refresh', { refreshToken: cashier.refreshToken });
    expect(refreshed.status).toBe(200);
    expect(jwtClaims(cashier.accessToken).sid).toEqual(expect.any(String));
    expect(jwtClaims(refreshed.body.accessToken).sid).toBe(jwtClaims(cashier.accessToken).sid);
    expect((await a.api.get(MENU, { token: refreshed.body.accessToken })).status).toBe(200);
    expect((await a.api.get(MENU, { token: cashier.accessToken })).status).toBe(200);
  });
});

describe('signup abuse: per-IP limit and bounded password hashing', () => {
  it('the 4th signup from one IP within the hour is a 429 problem with Retry-After, and creates nothing', async () => {
    const t = await startTestApp({ env: { SIGNUP_RATE_LIMIT_PER_IP: '3' } });
    try {
      for (let i = 0; i < 3; i++) await signup(t.api);
      const owner = email('fourth');
      const res = await t.api.post(SIGNUP, { restaurantName: `Fourth ${uniq()}`, currency: 'USD', email: owner, password: 'correct horse battery' });
      expectProblem(res, 429, 'rate-limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another address is not affected.
      const other = await postFrom('127.0.0.2', t.api.baseUrl, SIGNUP, { restaurantName: `Elsewhere ${uniq()}`, currency: 'USD', email: email(), password: 'correct horse battery' });
      expect(other.status, JSON.stringify(other.body)).toBe(201);
    } finally {
      await t.close();
    }
  });

  it('with the hashing queue full, a signup or login gets a 503 problem with Retry-After and changes nothing', async () => {
    const t = await startTestApp({ env: { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '1' } });
    try {
      const owner = await signup(t.api);
      const emails = Array.from({ length: 16 }, () => email('burst'));
      const results = await Promise.all(
        emails.map((e, i) =>
          i % 2
            ? t.api.post(SIGNUP, { restaurantName: `Burst ${uniq()}`, currency: 'USD', email: e, password: 'correct horse battery' })
            : t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password }),
        ),
      );
      const statuses = results.map((r) => r.status);
      const busy = results.filter((r) => r.status === 503);
      expect(busy.length, statuses.join(',')).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 200 || s === 201).length, statuses.join(',')).toBeGreaterThanOrEqual(2);
      expect(statuses.every((s) => [200, 201, 503].includes(s)), statuses.join(',')).toBe(true);
      for (const r of busy) {
        expectProblem(r, 503, 'password-hashing-busy');
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      }
      // A refused signup created nothing: its email cannot log in anywhere, and the queue frees up.
      const refused = emails.filter((_, i) => i % 2 && results[i]!.status === 503);
      for (const e of refused) expectProblem(await t.api.post(LOGIN, { tenant: 'burst', email: e, password: 'correct horse battery' }), 401);
      expect((await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('token responses, claims, lockout, timing, common passwords', () => {
  let t: TestApp;
  let owner: TenantFixture;
  beforeAll(async () => {
    t = await startTestApp({ env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '3' } });
    owner = await signup(t.api);
  });
  afterAll(() => t?.close());

  it('signup, login and refresh answer with Cache-Control: no-store and Pragma: no-cache', async () => {
    const created = await t.api.post(SIGNUP, { restaurantName: `Store ${uniq()}`, currency: 'USD', email: email(), password: 'correct horse battery' });
    const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
    const refresh = await t.api.post('/api/v1/auth/refresh', { refreshToken: login.body.refreshToken });
    for (const res of [created, login, refresh]) {
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
    }
  });

  describe('forged access tokens signed with the real secret', () => {
    let claims: Record<string, any>;
    beforeAll(async () => {
      const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
      claims = jwtClaims(login.body.accessToken);
    });

    it('control: the app’s own claims, re-signed, are accepted', async () => {
      expect(claims).toMatchObject({ iss: expect.any(String), aud: expect.any(String), sid: expect.any(String) });
      expect((await t.api.get(ME, { token: signHs256(claims) })).status).toBe(200);
    });

    it.each([
      ['without exp', (c: Record<string, any>) => ({ ...c, exp: undefined })],
      ['with nbf in the future', (c: Record<string, any>) => ({ ...c, nbf: now() + 600 })],
      ['with iat in the future', (c: Record<string, any>) => ({ ...c, iat: now() + 600, exp: now() + 1200 })],
      ['without iss', (c: Record<string, any>) => ({ ...c, iss: undefined })],
      ['with another iss', (c: Record<string, any>) => ({ ...c, iss: 'https://evil.example' })],
      ['without aud', (c: Record<string, any>) => ({ ...c, aud: undefined })],
      ['with another aud', (c: Record<string, any>) => ({ ...c, aud: 'some-other-api' })],
      ['without the session id', (c: Record<string, any>) => ({ ...c, sid: undefined })],
    ])('an access token %s is a 401', async (_label, edit) => {
      expectProblem(await t.api.get(ME, { token: signHs256(edit(claims)) }), 401);
      expectProblem(await t.api.get(MENU, { token: signHs256(edit(claims)) }), 401);
    });
  });

  it('an attacker exhausting the per-account login limit from another IP does not lock the real user out', async () => {
    const cashier = await addAndLogin(t, owner, 'cashier');
    const attempt = (password: string) => postFrom('127.0.0.2', t.api.baseUrl, LOGIN, { tenant: owner.tenant.slug, email: cashier.email, password });
    for (let i = 0; i < 3; i++) expect((await attempt('guess-guess-guess')).status).toBe(401);
    const blocked = await attempt(owner.password);
    expectProblem(blocked, 429, 'rate-limited');
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // At the till (another address): the cashier still logs in.
    const real = await postFrom('127.0.0.1', t.api.baseUrl, LOGIN, { tenant: owner.tenant.slug, email: cashier.email, password: owner.password });
    expect(real.status, JSON.stringify(real.body)).toBe(200);
  });

  it('a login with an unknown restaurant slug does the same work as one with a wrong password', async () => {
    const verify = vi.spyOn(argon2, 'verify');
    const lookup = vi.spyOn(authRepository, 'userByEmail');
    try {
      const work = async (tenant: string) => {
        verify.mockClear();
        lookup.mockClear();
        expectProblem(await t.api.post(LOGIN, { tenant, email: owner.user.email, password: 'not the password' }), 401, 'invalid-credentials');
        return { verifies: verify.mock.calls.length, userLookups: lookup.mock.calls.length };
      };
      const unknownSlug = await work(`no-such-restaurant-${uniq()}`);
      const wrongPassword = await work(owner.tenant.slug);
      expect(wrongPassword).toEqual({ verifies: 1, userLookups: 1 });
      expect(unknownSlug).toEqual(wrongPassword);
    } finally {
      verify.mockRestore();
      lookup.mockRestore();
    }
  });

  it.each(['password1', 'iloveyou1', 'Qwertyuiop', 'PASSWORD123'])('refuses the common password %s at signup with a 422 and creates nothing', async (password) => {
    const ownerEmail = email('common');
    const name = `Common ${uniq()}`;
    const res = await t.api.post(SIGNUP, { restaurantName: name, currency: 'USD', email: ownerEmail, password });
    expectProblem(res, 422, 'password-too-common');
    expect(res.body.errors).toEqual([{ path: 'body.password', message: expect.any(String) }]);
    const retry = await signup(t.api, { restaurantName: name, email: ownerEmail });
    expect(retry.tenant.slug).toBe(name.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  });

  it('refuses a common password for a new staff member with a 422 and adds nobody', async () => {
    const staffEmail = email('common-staff');
    const res = await t.api.post(USERS, { email: staffEmail, password: 'sunshine1', role: 'cashier' }, { token: owner.token });
    expectProblem(res, 422, 'password-too-common');
    const list = await t.api.get(`${USERS}?limit=100`, { token: owner.token });
    expect(list.body.items.map((u: { email: string }) => u.email)).not.toContain(staffEmail);
  });
});

describe.skipIf(!onRealPostgres())('login while every database connection is taken', () => {
  let t: TestApp;
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    // One connection in the request pool, and half a second to get it.
    const config = loadConfig({ DATABASE_URL: (db.config as { url: string }).url, DATABASE_POOL_MAX: '1', DATABASE_ACQUIRE_TIMEOUT_MS: '500' }).database;
    t = await startTestApp({ database: { ...db, config } });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  it("answers 503 with Retry-After within the acquire timeout (the restaurant's lookup by slug was an unbounded wait for a connection), then logs in once one is free", async () => {
    const owner = await signup(t.api);
    let finish!: () => void;
    const held = t.app.database.transaction({}, () => new Promise<void>((resolve) => (finish = resolve)));
    try {
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      const tooLate = new Promise<'still waiting'>((resolve) => setTimeout(() => resolve('still waiting'), 5000).unref());
      const res = await Promise.race([t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password }), tooLate]);
      expect(res, 'login still waiting for a connection after 5 s').not.toBe('still waiting');
      const answer = res as ApiResponse;
      expectProblem(answer, 503, 'service-unavailable');
      expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      finish();
      await held;
    }
    const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
    expect(login.status, JSON.stringify(login.body)).toBe(200);
  });
});
