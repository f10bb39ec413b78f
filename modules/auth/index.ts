import { defineModule } from '../../shared/module.ts';
import { problems } from '../../shared/problem-details.ts';
import type { AuthGateway, TenantProfile } from './gateway.ts';
import { createPasswordHasher, type PasswordHashingLimits } from './passwords.ts';
import { authRepository } from './repository.ts';
import { authRoutes } from './routes.ts';
import type { SessionChecker } from './session-check.ts';
import { createAuthService, toTenantProfile } from './service.ts';

export { createSessionChecker, type SessionChecker } from './session-check.ts';

/** How long an instance reuses a tenant profile (currency, tax rate, time zone) it has read. */
const TENANT_CACHE_MS = 30_000;

/** Options of the auth module (from the app configuration). */
export interface AuthModuleOptions {
  loginRateLimit: { perIpPerMinute: number; perAccountPerMinute: number };
  /** Signups per client IP per hour. */
  signupRateLimitPerIpPerHour: number;
  /** Bound on concurrent and queued argon2 operations of this instance. */
  passwordHashing: PasswordHashingLimits;
  refreshTokenTtlSeconds: number;
  /**
   * The session check the composition root also gave the auth guard (see
   * {@link createSessionChecker}); the module drops its cached answers when it ends sessions.
   */
  sessionChecker: SessionChecker;
}

/**
 * The auth module: tenants (restaurants), staff, signup, login and sessions. Uses no other
 * module; returns its {@link AuthGateway} and serves its routes under `/api/v1/auth`.
 */
export default defineModule<Record<never, never>, AuthGateway, AuthModuleOptions>({
  name: 'auth',
  uses: [],
  async setup(scope, { options }) {
    // Tenant profiles are read on every order; they change rarely (currency never), so each
    // instance keeps them for a short while instead of asking the database every time.
    const cache = new Map<string, { profile: TenantProfile; expires: number }>();
    const gateway: AuthGateway = {
      async getTenant(uow) {
        const hit = cache.get(uow.tenantId);
        if (hit && hit.expires > Date.now()) return hit.profile;
        const tenant = await authRepository.tenantById(uow.tx, uow.tenantId);
        if (!tenant) throw problems.notFound('The tenant of this token does not exist.');
        const profile = toTenantProfile(tenant);
        if (cache.size > 10_000) cache.clear();
        cache.set(uow.tenantId, { profile, expires: Date.now() + TENANT_CACHE_MS });
        return profile;
      },
      tenantIds: () => authRepository.allTenantIds(scope.database.db),
    };
    // Expired refresh tokens are useless (a session needs an unexpired one): deleted hourly.
    scope.retention.register({ name: 'auth.expired-refresh-tokens', purge: (uow) => authRepository.deleteExpiredRefreshTokens(uow.tx, uow.tenantId) });
    await scope.register(authRoutes, {
      prefix: '/auth',
      service: createAuthService(scope, {
        refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
        passwords: createPasswordHasher(options.passwordHashing),
        sessionChecker: options.sessionChecker,
      }),
      loginRateLimit: options.loginRateLimit,
      signupRateLimitPerIpPerHour: options.signupRateLimitPerIpPerHour,
    });
    return gateway;
  },
});
