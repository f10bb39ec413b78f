import { createHmac, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectProblem, jwtClaims, signup, staff, team, type TenantFixture, walkPages } from '../../test/support/fixtures.ts';
import { startTestApp, type TestApp } from '../../test/support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

const SIGNUP = '/api/v1/auth/signup';
const LOGIN = '/api/v1/auth/login';
const ME = '/api/v1/auth/me';
const USERS = '/api/v1/auth/users';

let seq = 0;
const uniq = () => `${Date.now().toString(36)}${(seq++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const email = (prefix = 'user') => `${prefix}-${uniq()}@example.com`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Signs an HS256 JWT by hand (for tokens the app itself would never issue). */
function signHs256(payload: object, secret: string, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const unsigned = `${enc(header)}.${enc(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
}

/** Replaces the character at `index` with a different base64url character. */
function flipChar(s: string, index: number): string {
  const c = s[index]!;
  return s.slice(0, index) + (c === 'A' ? 'B' : 'A') + s.slice(index + 1);
}

/** Emails of every staff member of the owner's tenant, read back over the API. */
async function staffEmails(owner: TenantFixture): Promise<string[]> {
  const { items } = await walkPages(t.api, USERS, owner.token, 100);
  return items.map((u: { email: string }) => u.email).sort();
}

describe('POST /auth/signup', () => {
  it('creates a restaurant and its owner and returns a usable bearer token (201)', async () => {
    const ownerEmail = email('owner');
    const res = await t.api.post(SIGNUP, {
      restaurantName: `Chez Test ${uniq()}`,
      currency: 'EUR',
      email: ownerEmail,
      password: 'correct horse battery',
      taxRateBps: 825,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.tenant).toMatchObject({ id: expect.stringMatching(UUID), slug: expect.any(String), currency: 'EUR', taxRateBps: 825 });
    expect(res.body.tenant.name).toMatch(/^Chez Test /);
    expect(res.body.user).toMatchObject({ id: expect.stringMatching(UUID), email: ownerEmail, role: 'owner', tenantId: res.body.tenant.id });
    expect(res.body.tokenType).toBe('Bearer');
    expect(res.body.expiresIn).toEqual(expect.any(Number));
    expect(res.body.expiresIn).toBeGreaterThan(0);
    expect(res.body.accessToken).toEqual(expect.any(String));
    // Never leak the password or its hash.
    expect(JSON.stringify(res.body)).not.toMatch(/password|argon2/i);

    const claims = jwtClaims(res.body.accessToken);
    expect(claims).toMatchObject({ sub: res.body.user.id, tid: res.body.tenant.id, role: 'owner' });
    expect(claims.exp - claims.iat).toBe(res.body.expiresIn);

    const me = await t.api.get(ME, { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ id: res.body.user.id, email: ownerEmail, role: 'owner', tenantId: res.body.tenant.id });
  });

  it('defaults taxRateBps to 0', async () => {
    const owner = await signup(t.api);
    expect(owner.tenant.taxRateBps).toBe(0);
  });

  it('stores the email lower-cased', async () => {
    const raw = `MiXeD-${uniq()}@Example.COM`;
    const res = await t.api.post(SIGNUP, { restaurantName: `Case ${uniq()}`, currency: 'USD', email: raw, password: 'correct horse battery' });
    expect(res.status).toBe(201);
    expect(res.body.user.email).toBe(raw.toLowerCase());
  });

  it('derives a URL-safe slug from the restaurant name', async () => {
    const tag = uniq();
    const owner = await signup(t.api, { restaurantName: `Luigi's Café ${tag}!` });
    expect(owner.tenant.slug).toBe(`luigis-cafe-${tag}`);
  });

  it('makes the slug unique when the same name signs up twice', async () => {
    const name = `Pizza Twin ${uniq()}`;
    const first = await signup(t.api, { restaurantName: name });
    const second = await signup(t.api, { restaurantName: name });
    expect(second.tenant.id).not.toBe(first.tenant.id);
    expect(second.tenant.slug).not.toBe(first.tenant.slug);
    expect(second.tenant.slug.startsWith(first.tenant.slug)).toBe(true);
    expect(second.tenant.slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);

    // Each slug logs into its own tenant.
    for (const owner of [first, second]) {
      const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
      expect(login.status).toBe(200);
      expect(login.body.user.tenantId).toBe(owner.tenant.id);
    }
  });

  it('lets the same email own accounts in two different tenants', async () => {
    const shared = email('multi');
    const a = await signup(t.api, { email: shared });
    const b = await signup(t.api, { email: shared, password: 'another long password' });
    expect(a.tenant.id).not.toBe(b.tenant.id);
    expect(a.user.id).not.toBe(b.user.id);

    const loginA = await t.api.post(LOGIN, { tenant: a.tenant.slug, email: shared, password: a.password });
    expect(loginA.status).toBe(200);
    expect(loginA.body.user).toMatchObject({ id: a.user.id, tenantId: a.tenant.id });
    const loginB = await t.api.post(LOGIN, { tenant: b.tenant.slug, email: shared, password: 'another long password' });
    expect(loginB.status).toBe(200);
    expect(loginB.body.user).toMatchObject({ id: b.user.id, tenantId: b.tenant.id });
    // Each account keeps its own password.
    expectProblem(await t.api.post(LOGIN, { tenant: b.tenant.slug, email: shared, password: a.password }), 401);
  });

  it('accepts passwords of exactly 8 and exactly 128 characters', async () => {
    const short = await t.api.post(SIGNUP, { restaurantName: `P8 ${uniq()}`, currency: 'USD', email: email(), password: 'tk4#9qzb' });
    expect(short.status, JSON.stringify(short.body)).toBe(201);
    const long = 'p'.repeat(128);
    const res = await t.api.post(SIGNUP, { restaurantName: `P128 ${uniq()}`, currency: 'USD', email: email(), password: long });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const login = await t.api.post(LOGIN, { tenant: res.body.tenant.slug, email: res.body.user.email, password: long });
    expect(login.status).toBe(200);
  });

  it.each([
    ['shorter than 8 characters', '1234567'],
    ['longer than 128 characters', 'p'.repeat(129)],
  ])('rejects a password %s with a 400 naming body.password, and creates nothing', async (_label, password) => {
    const name = `Bad Password ${uniq()}`;
    const ownerEmail = email();
    const res = await t.api.post(SIGNUP, { restaurantName: name, currency: 'USD', email: ownerEmail, password });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors).toEqual([{ path: 'body.password', message: expect.any(String) }]);
    // Nothing was created: a valid signup with the same name still gets the bare slug.
    const retry = await signup(t.api, { restaurantName: name, email: ownerEmail });
    expect(retry.tenant.slug).toBe(name.toLowerCase().replace(/[^a-z0-9]+/g, '-'));
  });

  it.each([
    ['an unknown code', 'ZZZ'],
    ['a lower-case code', 'usd'],
    ['a code of the wrong length', 'US'],
  ])('rejects %s as currency with a 400 naming body.currency', async (_label, currency) => {
    const res = await t.api.post(SIGNUP, { restaurantName: `Money ${uniq()}`, currency, email: email(), password: 'correct horse battery' });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.currency']);
  });

  it.each([
    ['above 10000', 10_001],
    ['negative', -1],
    ['not an integer', 8.25],
  ])('rejects a taxRateBps %s with a 400', async (_label, taxRateBps) => {
    const res = await t.api.post(SIGNUP, { restaurantName: `Tax ${uniq()}`, currency: 'USD', email: email(), password: 'correct horse battery', taxRateBps });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.taxRateBps']);
  });

  it('rejects a missing body field and an invalid email with a 400 per field', async () => {
    const res = await t.api.post(SIGNUP, { currency: 'USD', email: 'not-an-email', password: 'correct horse battery' });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.email', 'body.restaurantName']);
  });
});

describe('POST /auth/login', () => {
  let owner: TenantFixture;
  beforeAll(async () => {
    owner = await signup(t.api);
  });

  it('exchanges tenant slug, email and password for a token (200)', async () => {
    const res = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: owner.password });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accessToken: expect.any(String), tokenType: 'Bearer', expiresIn: expect.any(Number) });
    expect(res.body.user).toMatchObject({ id: owner.user.id, email: owner.user.email, role: 'owner', tenantId: owner.tenant.id });
    expect(JSON.stringify(res.body)).not.toMatch(/password|argon2/i);
    expect(jwtClaims(res.body.accessToken)).toMatchObject({ sub: owner.user.id, tid: owner.tenant.id, role: 'owner' });

    const me = await t.api.get(ME, { token: res.body.accessToken });
    expect(me.status).toBe(200);
    expect(me.body.id).toBe(owner.user.id);
  });

  it('treats the email and slug case-insensitively', async () => {
    const res = await t.api.post(LOGIN, { tenant: owner.tenant.slug.toUpperCase(), email: owner.user.email.toUpperCase(), password: owner.password });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe(owner.user.id);
  });

  it('answers the same 401 for a wrong password, an unknown email and an unknown tenant (no enumeration)', async () => {
    const other = await signup(t.api);
    const attempts = {
      wrongPassword: await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: owner.user.email, password: 'wrong password!' }),
      unknownEmail: await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: email('ghost'), password: owner.password }),
      unknownTenant: await t.api.post(LOGIN, { tenant: `no-such-tenant-${uniq()}`, email: owner.user.email, password: owner.password }),
      // A real user of another tenant, with their real password, under this tenant's slug.
      otherTenantsUser: await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: other.user.email, password: other.password }),
    };
    const shapes = Object.values(attempts).map((res) => {
      expectProblem(res, 401);
      expect(res.body.accessToken).toBeUndefined();
      return { type: res.body.type, title: res.body.title, detail: res.body.detail, status: res.body.status, keys: Object.keys(res.body).sort() };
    });
    for (const shape of shapes) expect(shape).toEqual(shapes[0]);
  });

  it('rejects a body with missing fields with a 400', async () => {
    const res = await t.api.post(LOGIN, { tenant: owner.tenant.slug });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.email', 'body.password']);
  });
});

describe('GET /auth/me and bearer tokens', () => {
  let owner: TenantFixture;
  beforeAll(async () => {
    owner = await signup(t.api);
  });

  it('returns the calling staff member as {id, email, role, tenantId}', async () => {
    const res = await t.api.get(ME, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: owner.user.id, email: owner.user.email, role: 'owner', tenantId: owner.tenant.id });
  });

  it('answers 401 with a WWW-Authenticate challenge when no token is sent', async () => {
    const res = await t.api.get(ME);
    expectProblem(res, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it.each([
    ['a malformed token', 'Bearer not-a-jwt'],
    ['an empty bearer token', 'Bearer '],
    ['a non-Bearer scheme', 'Basic dXNlcjpwYXNz'],
  ])('answers 401 for %s', async (_label, authorization) => {
    expectProblem(await t.api.get(ME, { headers: { authorization } }), 401);
  });

  it('answers 401 for a token whose signature was tampered with', async () => {
    const [header, payload, signature] = owner.token.split('.') as [string, string, string];
    // A character in the middle of the signature: every one of its bits is significant.
    const tampered = `${header}.${payload}.${flipChar(signature, 10)}`;
    expect(tampered).not.toBe(owner.token);
    expectProblem(await t.api.get(ME, { token: tampered }), 401);
  });

  it('answers 401 for a cashier token whose payload was edited to claim the owner role', async () => {
    const cashierToken = await staff(t.api, owner, 'cashier');
    const [header, , signature] = cashierToken.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ ...jwtClaims(cashierToken), role: 'owner' })).toString('base64url');
    const token = `${header}.${forged}.${signature}`;
    expectProblem(await t.api.get(ME, { token }), 401);
    expectProblem(await t.api.get(USERS, { token }), 401);
  });

  it('answers 401 for a token signed with another secret or with alg "none"', async () => {
    // The owner's real claims (issuer, audience, session) with a fresh lifetime.
    const claims = { ...jwtClaims(owner.token), iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 };
    expectProblem(await t.api.get(ME, { token: signHs256(claims, 'some-other-secret-that-is-32-chars-long!') }), 401);
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    expectProblem(await t.api.get(ME, { token: `${enc({ alg: 'none', typ: 'JWT' })}.${enc(claims)}.` }), 401);
    // Control: the same claims signed with the app's secret are accepted.
    expect((await t.api.get(ME, { token: signHs256(claims, 'test-secret-that-is-at-least-32-characters-long') })).status).toBe(200);
  });

  it('answers 401 for an expired token, while the same claims unexpired are accepted', async () => {
    const claims = { sub: owner.user.id, tid: owner.tenant.id, role: 'owner' as const, sid: jwtClaims(owner.token).sid };
    const fresh = t.app.jwt.sign(claims);
    expect((await t.api.get(ME, { token: fresh })).status).toBe(200);
    // Issued two hours ago with the app's own lifetime: long expired.
    const expired = t.app.jwt.sign({ ...claims, iat: Math.floor(Date.now() / 1000) - 7200 } as typeof claims);
    expect(jwtClaims(expired).exp).toBeLessThan(Date.now() / 1000);
    expectProblem(await t.api.get(ME, { token: expired }), 401);
  });

  it('answers 401 for a token that expires while it is held', async () => {
    const token = t.app.jwt.sign({ sub: owner.user.id, tid: owner.tenant.id, role: 'owner', sid: jwtClaims(owner.token).sid }, { expiresIn: 1 });
    // 1 s lifetime + 1 s of tolerated clock skew, then a margin.
    await new Promise((resolve) => setTimeout(resolve, 2600));
    expectProblem(await t.api.get(ME, { token }), 401);
  });

  it('answers 401 for a token that expires after it was accepted (a remembered token is checked against its exp on every use)', async () => {
    const token = t.app.jwt.sign({ sub: owner.user.id, tid: owner.tenant.id, role: 'owner', sid: jwtClaims(owner.token).sid }, { expiresIn: 2 });
    expect((await t.api.get(ME, { token })).status).toBe(200);
    expect((await t.api.get(ME, { token })).status).toBe(200); // remembered now
    // 2 s lifetime + 1 s of tolerated clock skew, then a margin.
    await new Promise((resolve) => setTimeout(resolve, (jwtClaims(token).exp + 1) * 1000 - Date.now() + 600));
    expectProblem(await t.api.get(ME, { token }), 401);
  });

  it('answers 401 for a validly signed token without the tenant claim', async () => {
    const token = t.app.jwt.sign({ sub: owner.user.id, role: 'owner', sid: jwtClaims(owner.token).sid } as never);
    expectProblem(await t.api.get(ME, { token }), 401);
  });

  it('answers 401 on /me for a validly signed token of a user that does not exist', async () => {
    const token = t.app.jwt.sign({ sub: randomUUID(), tid: owner.tenant.id, role: 'owner', sid: jwtClaims(owner.token).sid });
    expectProblem(await t.api.get(ME, { token }), 401);
  });

  it('answers 403 when x-tenant-id differs from the token tenant, and 200 when it matches', async () => {
    const other = await signup(t.api);
    const mismatch = await t.api.get(ME, { token: owner.token, headers: { 'x-tenant-id': other.tenant.id } });
    expectProblem(mismatch, 403);
    const garbage = await t.api.get(ME, { token: owner.token, headers: { 'x-tenant-id': 'not-a-tenant' } });
    expectProblem(garbage, 403);
    const match = await t.api.get(ME, { token: owner.token, headers: { 'x-tenant-id': owner.tenant.id } });
    expect(match.status).toBe(200);
    expect(match.body.tenantId).toBe(owner.tenant.id);
  });

  it('answers 403 when x-tenant-id differs on a write, and the write does not happen', async () => {
    const other = await signup(t.api);
    const newEmail = email('blocked');
    const res = await t.api.post(USERS, { email: newEmail, password: 'correct horse battery', role: 'cashier' }, { token: owner.token, headers: { 'x-tenant-id': other.tenant.id } });
    expectProblem(res, 403);
    expect(await staffEmails(owner)).not.toContain(newEmail);
    expect(await staffEmails(other)).not.toContain(newEmail);
  });
});

describe('POST /auth/users', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  beforeAll(async () => {
    ({ owner, managerToken, cashierToken } = await team(t.api));
  });

  it.each(['manager', 'cashier'] as const)('lets the owner add a %s (201), who can then log in', async (role) => {
    const newEmail = email(role);
    const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role }, { token: owner.token });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ id: expect.stringMatching(UUID), email: newEmail, role, tenantId: owner.tenant.id, active: true });
    expect(JSON.stringify(res.body)).not.toMatch(/password|argon2/i);

    const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: newEmail, password: 'staff password 1' });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ id: res.body.id, role });
    const me = await t.api.get(ME, { token: login.body.accessToken });
    expect(me.body).toEqual({ id: res.body.id, email: newEmail, role, tenantId: owner.tenant.id });
  });

  it('lets a manager add a cashier (201)', async () => {
    const newEmail = email('cashier');
    const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role: 'cashier' }, { token: managerToken });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toMatchObject({ email: newEmail, role: 'cashier', tenantId: owner.tenant.id });
    expect(await staffEmails(owner)).toContain(newEmail);
  });

  it('forbids a manager from adding a manager (403), and adds nobody', async () => {
    const newEmail = email('manager');
    const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role: 'manager' }, { token: managerToken });
    expectProblem(res, 403);
    expect(await staffEmails(owner)).not.toContain(newEmail);
    expectProblem(await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: newEmail, password: 'staff password 1' }), 401);
  });

  it('rejects the owner role for anyone, owner and manager alike (400), and adds nobody', async () => {
    for (const token of [owner.token, managerToken]) {
      const newEmail = email('owner2');
      const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role: 'owner' }, { token });
      expectProblem(res, 400, 'validation-error');
      expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['body.role']);
      expect(await staffEmails(owner)).not.toContain(newEmail);
    }
  });

  it('forbids a cashier from adding staff (403), and adds nobody', async () => {
    const newEmail = email('cashier');
    const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role: 'cashier' }, { token: cashierToken });
    expectProblem(res, 403);
    expect(await staffEmails(owner)).not.toContain(newEmail);
  });

  it('answers 401 without a token', async () => {
    expectProblem(await t.api.post(USERS, { email: email(), password: 'staff password 1', role: 'cashier' }), 401);
  });

  it('checks the token and role before the body: 401 without a token, 403 for a cashier, even for an invalid body', async () => {
    const invalid = { email: 'nope', password: 'short', role: 'chef' };
    expectProblem(await t.api.post(USERS, invalid), 401);
    expectProblem(await t.api.post(USERS, invalid, { token: cashierToken }), 403);
    expectProblem(await t.api.get(`${USERS}?limit=0`), 401);
    expectProblem(await t.api.get(`${USERS}?limit=0`, { token: cashierToken }), 403);
  });

  it('answers 409 for an email already used in the tenant (case-insensitively), keeping the first account', async () => {
    const newEmail = email('dup');
    const first = await t.api.post(USERS, { email: newEmail, password: 'first password', role: 'cashier' }, { token: owner.token });
    expect(first.status).toBe(201);
    const before = await staffEmails(owner);

    const again = await t.api.post(USERS, { email: newEmail, password: 'second password', role: 'manager' }, { token: owner.token });
    expectProblem(again, 409, 'email-taken');
    const upper = await t.api.post(USERS, { email: newEmail.toUpperCase(), password: 'second password', role: 'cashier' }, { token: owner.token });
    expectProblem(upper, 409, 'email-taken');
    // The owner's own email is taken too.
    expectProblem(await t.api.post(USERS, { email: owner.user.email, password: 'second password', role: 'cashier' }, { token: owner.token }), 409);

    expect(await staffEmails(owner)).toEqual(before);
    // The first account is untouched: its password still works, the second one does not.
    const login = await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: newEmail, password: 'first password' });
    expect(login.status).toBe(200);
    expect(login.body.user).toMatchObject({ id: first.body.id, role: 'cashier' });
    expectProblem(await t.api.post(LOGIN, { tenant: owner.tenant.slug, email: newEmail, password: 'second password' }), 401);
  });

  it('allows an email used in another tenant', async () => {
    const other = await signup(t.api);
    const res = await t.api.post(USERS, { email: other.user.email, password: 'staff password 1', role: 'cashier' }, { token: owner.token });
    expect(res.status).toBe(201);
    expect(res.body.tenantId).toBe(owner.tenant.id);
  });

  it.each([
    ['a password under 8 characters', { password: 'short' }, 'body.password'],
    ['a password over 128 characters', { password: 'x'.repeat(129) }, 'body.password'],
    ['an invalid email', { email: 'nope' }, 'body.email'],
    ['an unknown role', { role: 'chef' }, 'body.role'],
  ])('rejects %s with a 400 naming the field, and adds nobody', async (_label, override, path) => {
    const newEmail = email('invalid');
    const res = await t.api.post(USERS, { email: newEmail, password: 'staff password 1', role: 'cashier', ...override }, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual([path]);
    expect(await staffEmails(owner)).not.toContain(newEmail);
  });
});

describe('GET /auth/users', () => {
  let owner: TenantFixture;
  let managerToken: string;
  let cashierToken: string;
  const created: string[] = [];
  beforeAll(async () => {
    owner = await signup(t.api);
    managerToken = await staff(t.api, owner, 'manager');
    cashierToken = await staff(t.api, owner, 'cashier');
    for (let i = 0; i < 4; i++) {
      const e = email(`list${i}`);
      const res = await t.api.post(USERS, { email: e, password: 'staff password 1', role: 'cashier' }, { token: owner.token });
      expect(res.status).toBe(201);
      created.push(e);
    }
  });

  it('lists every staff member of the tenant (owner included) without password hashes', async () => {
    const res = await t.api.get(USERS, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items).toHaveLength(7); // owner + manager + cashier + 4
    const emails = res.body.items.map((u: { email: string }) => u.email);
    expect(emails).toEqual(expect.arrayContaining([owner.user.email, ...created]));
    for (const u of res.body.items) {
      expect(u).toMatchObject({ id: expect.stringMatching(UUID), tenantId: owner.tenant.id, role: expect.stringMatching(/^(owner|manager|cashier)$/) });
      expect(u).not.toHaveProperty('passwordHash');
    }
    expect(res.body.items.filter((u: { role: string }) => u.role === 'owner')).toHaveLength(1);
  });

  it('never shows staff of another tenant', async () => {
    const other = await signup(t.api);
    await staff(t.api, other, 'cashier');
    const mine = await staffEmails(owner);
    const theirs = await staffEmails(other);
    expect(theirs).toHaveLength(2);
    expect(mine.filter((e) => theirs.includes(e))).toEqual([]);
  });

  it('lets a manager list staff, but not a cashier (403)', async () => {
    const res = await t.api.get(USERS, { token: managerToken });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(7);
    expectProblem(await t.api.get(USERS, { token: cashierToken }), 403);
    expectProblem(await t.api.get(USERS), 401);
  });

  it('paginates with limit and nextCursor, visiting every staff member exactly once', async () => {
    const first = await t.api.get(`${USERS}?limit=3`, { token: owner.token });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(3);
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const { pages, items } = await walkPages(t.api, USERS, owner.token, 3);
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    const ids = items.map((u: { id: string }) => u.id);
    expect(new Set(ids).size).toBe(7);
    const all = (await t.api.get(USERS, { token: owner.token })).body.items.map((u: { id: string }) => u.id);
    expect(ids).toEqual(all);
  });

  it('answers nextCursor null when the last page is exactly full', async () => {
    const res = await t.api.get(`${USERS}?limit=7`, { token: owner.token });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(7);
    expect(res.body.nextCursor).toBeNull();
  });

  it.each(['0', '101', 'abc', '-1', '2.5'])('rejects limit=%s with a 400 naming querystring.limit', async (limit) => {
    const res = await t.api.get(`${USERS}?limit=${limit}`, { token: owner.token });
    expectProblem(res, 400, 'validation-error');
    expect(res.body.errors.map((e: { path: string }) => e.path)).toEqual(['querystring.limit']);
  });

  it('accepts limit=1 and limit=100', async () => {
    expect((await t.api.get(`${USERS}?limit=1`, { token: owner.token })).body.items).toHaveLength(1);
    expect((await t.api.get(`${USERS}?limit=100`, { token: owner.token })).body.items).toHaveLength(7);
  });

  it('rejects a cursor this API did not make with a 400', async () => {
    expectProblem(await t.api.get(`${USERS}?cursor=garbage`, { token: owner.token }), 400);
  });
});
