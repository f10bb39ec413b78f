import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../shared/auth-guard.ts';
import { isUniqueViolation } from '../../shared/database.ts';
import { toPage } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import { problems } from '../../shared/problem-details.ts';
import { authProblems } from './problems.ts';
import type { TenantProfile } from './gateway.ts';
import { assertPasswordNotCommon, type PasswordHasher } from './passwords.ts';
import { authRepository as repo, type TenantRow, type UserRow } from './repository.ts';
import type { SessionChecker } from './session-check.ts';
import { parseRefreshToken, sessions } from './sessions.ts';
import type { StaffView } from './views.ts';


const invalidCredentials = () => authProblems.invalidCredentials.create('The tenant, email or password is wrong.', {});

/** Lower-cases and trims an email so that lookups are case-insensitive. */
const normalizeEmail = (email: string) => email.trim().toLowerCase();

/**
 * URL-safe slug from a restaurant name: ASCII letters and digits joined by single dashes, at most
 * 40 characters (`"Luigi's Café!"` → `luigis-cafe`); `restaurant` when nothing is left.
 */
function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/['\u2019]/g, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  return slug || 'restaurant';
}

export const toTenantProfile = (t: TenantRow): TenantProfile => ({
  id: t.id,
  slug: t.slug,
  name: t.name,
  currency: t.currency,
  taxRateBps: t.taxRateBps,
  timeZone: t.timeZone,
});

const toStaffView = (u: UserRow): StaffView => ({
  id: u.id,
  email: u.email,
  role: u.role,
  tenantId: u.tenantId,
  active: u.active,
  createdAt: u.createdAt.toISOString(),
});

/** Options of the auth use cases. */
export interface AuthServiceOptions {
  /** Lifetime of refresh tokens in seconds. */
  refreshTokenTtlSeconds: number;
  /** argon2id behind a bounded queue (503 when full). */
  passwords: PasswordHasher;
  /** The guard's session check, told at once when this instance ends sessions. */
  sessionChecker: SessionChecker;
}

/**
 * Tenant whose transaction an unknown slug's login runs in: no tenant has this id, so the user
 * lookup finds nobody, yet costs what a real one costs (no timing difference, no enumeration).
 */
const NO_TENANT = '00000000-0000-0000-0000-000000000000';

const invalidRefreshToken = () =>
  authProblems.invalidRefreshToken.create('The refresh token is invalid, expired or revoked. Log in again.', {});

/** Use cases of the auth module. */
export function createAuthService(app: FastifyInstance, opts: AuthServiceOptions) {
  const ttl = opts.refreshTokenTtlSeconds;
  const { passwords, sessionChecker } = opts;
  return {
    /**
     * Creates a tenant and its owner. The slug comes from the name and is made unique by a
     * numeric suffix (`pizza-luigi`, `pizza-luigi-2`, ...), safe under concurrent signups.
     * @throws ProblemError 422 `password-too-common`, 503 `password-hashing-busy`.
     */
    async signup(input: { restaurantName: string; currency: string; email: string; password: string; taxRateBps: number; timeZone: string }) {
      assertPasswordNotCommon(input.password);
      const passwordHash = await passwords.hash(input.password);
      const base = slugify(input.restaurantName);
      for (let attempt = 0; attempt < 20; attempt++) {
        const slug = attempt === 0 ? base : `${base}-${attempt < 10 ? attempt + 1 : newId().slice(-8)}`;
        const tenantId = newId();
        try {
          return await app.runInTenant(tenantId, async ({ tx }) => {
            const tenant = await repo.insertTenant(tx, {
              id: tenantId,
              slug,
              name: input.restaurantName,
              currency: input.currency,
              taxRateBps: input.taxRateBps,
              timeZone: input.timeZone,
            });
            const user = await repo.insertUser(tx, {
              tenantId,
              id: newId(),
              email: normalizeEmail(input.email),
              passwordHash,
              role: 'owner',
            });
            const { grant, sessionId } = await sessions.issue(tx, tenantId, user.id, ttl);
            return { tenant: toTenantProfile(tenant), user: toStaffView(user), session: grant, sessionId };
          });
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
        }
      }
      throw new Error('could not find a free tenant slug');
    },

    /**
     * Equal work whatever is wrong: an unknown slug still runs the user lookup (in a tenant that
     * does not exist) and one argon2 verification (against a dummy hash).
     * @throws ProblemError 401 (one answer for any wrong part: no account enumeration), 503
     * `password-hashing-busy`; DatabaseUnavailable (a 503 `service-unavailable`) when no database
     * connection is free within DATABASE_ACQUIRE_TIMEOUT_MS.
     */
    async login(input: { tenant: string; email: string; password: string }) {
      // In a transaction of its own, so its wait for a connection and its statement are bounded
      // like every request's (DATABASE_ACQUIRE_TIMEOUT_MS, DATABASE_STATEMENT_TIMEOUT_MS: a 503
      // when the pool stays busy); on the pool directly it waited for a free connection unbounded.
      const tenantId = (await app.database.transaction({}, (tx) => repo.tenantIdBySlug(tx, input.tenant.trim().toLowerCase()))) ?? NO_TENANT;
      const user = await app.runInTenant(tenantId, ({ tx }) => repo.userByEmail(tx, tenantId, normalizeEmail(input.email)));
      const ok = await passwords.verify(user?.active ? user.passwordHash : undefined, input.password);
      if (!ok || !user) throw invalidCredentials();
      const { grant, sessionId } = await app.runInTenant(user.tenantId, ({ tx }) => sessions.issue(tx, user.tenantId, user.id, ttl));
      return { user: toStaffView(user), session: grant, sessionId };
    },

    /**
     * Exchanges a refresh token for a new access token and a new refresh token (rotation). A
     * token that was already rotated is a stolen one: its whole family is revoked.
     * @throws ProblemError 401 invalid, expired, revoked or reused token, or deactivated user.
     */
    async refresh(refreshToken: string) {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) throw invalidRefreshToken();
      const outcome = await app.runInTenant(parsed.tenantId, async ({ tx, tenantId }) => {
        const current = await sessions.find(tx, tenantId, parsed.secret);
        if (!current || current.revokedAt || current.expiresAt <= new Date()) return { ok: false as const };
        if (current.rotatedAt) {
          await sessions.revokeFamily(tx, tenantId, current.familyId); // reuse detected: committed, then 401
          return { ok: false as const };
        }
        const user = await repo.userById(tx, tenantId, current.userId);
        if (!user?.active) {
          await sessions.revokeFamily(tx, tenantId, current.familyId);
          return { ok: false as const };
        }
        await sessions.markRotated(tx, tenantId, current.id);
        const { grant, sessionId } = await sessions.issue(tx, tenantId, user.id, ttl, current.familyId);
        return { ok: true as const, user: toStaffView(user), session: grant, sessionId };
      });
      if (!outcome.ok) throw invalidRefreshToken();
      return outcome;
    },

    /**
     * Ends the session (the refresh token's family), and with it the access tokens of that
     * session (within seconds on every instance, at once on this one). Unknown tokens are
     * ignored: logout always succeeds.
     */
    async logout(refreshToken: string): Promise<void> {
      const parsed = parseRefreshToken(refreshToken);
      if (!parsed) return;
      const ended = await app.runInTenant(parsed.tenantId, async ({ tx, tenantId }) => {
        const current = await sessions.find(tx, tenantId, parsed.secret);
        if (current) await sessions.revokeFamily(tx, tenantId, current.familyId);
        return current;
      });
      if (ended) sessionChecker.forget(ended.tenantId, ended.userId, ended.familyId);
    },

    /**
     * Activates or deactivates a staff member; deactivating ends all their sessions: refresh
     * tokens at once, access tokens within seconds on every instance (the guard's session check).
     * Owners manage managers and cashiers, managers manage cashiers; nobody changes an owner or
     * themselves.
     * @throws ProblemError 404 unknown user, 403 not allowed.
     */
    async setActive(principal: Principal, userId: string, active: boolean) {
      const view = await app.runInTenant(principal.tenantId, async ({ tx, tenantId }) => {
        const target = await repo.userById(tx, tenantId, userId);
        if (!target) throw problems.notFound('No such staff member.');
        if (target.id === principal.userId) throw problems.forbidden('You cannot deactivate yourself.');
        if (target.role === 'owner' || (principal.role === 'manager' && target.role !== 'cashier')) {
          throw problems.forbidden(`A ${principal.role} cannot change a ${target.role}.`);
        }
        const updated = await repo.setActive(tx, tenantId, userId, active);
        if (!active) await sessions.revokeUser(tx, tenantId, userId);
        return toStaffView(updated!);
      });
      if (!active) sessionChecker.forget(principal.tenantId, userId);
      return view;
    },

    /** @throws ProblemError 401 when the token's user no longer exists or is deactivated. */
    async me(principal: Principal) {
      const user = await app.runInTenant(principal.tenantId, ({ tx }) => repo.userById(tx, principal.tenantId, principal.userId));
      if (!user?.active) throw problems.unauthorized('The user of this token no longer exists or is deactivated.');
      return toStaffView(user);
    },

    /**
     * Adds a staff member. Owners may add managers and cashiers; managers only cashiers.
     * @throws ProblemError 403 (role not allowed), 409 (email already used in this tenant), 422
     * `password-too-common`, 503 `password-hashing-busy`.
     */
    async createUser(principal: Principal, input: { email: string; password: string; role: 'manager' | 'cashier' }) {
      if (principal.role === 'manager' && input.role !== 'cashier') {
        throw problems.forbidden('A manager can only add cashiers.');
      }
      assertPasswordNotCommon(input.password);
      const passwordHash = await passwords.hash(input.password);
      try {
        return await app.runInTenant(principal.tenantId, async ({ tx }) =>
          toStaffView(
            await repo.insertUser(tx, {
              tenantId: principal.tenantId,
              id: newId(),
              email: normalizeEmail(input.email),
              passwordHash,
              role: input.role,
            }),
          ),
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          throw authProblems.emailTaken.create('A staff member with this email already exists in this restaurant.', {});
        }
        throw error;
      }
    },

    async listUsers(principal: Principal, limit: number, afterId?: string) {
      const rows = await app.runInTenant(principal.tenantId, ({ tx }) => repo.listUsers(tx, principal.tenantId, limit + 1, afterId));
      return toPage(rows.map(toStaffView), limit);
    },
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
