import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { problems } from '../../shared/problem-details.ts';
import type { AuthGateway } from './gateway.ts';
import { authRepository } from './repository.ts';
import { authRoutes } from './routes.ts';
import { createAuthService, toTenantProfile } from './service.ts';

/** Options of the auth module (from the app configuration). */
export interface AuthModuleOptions {
  loginRateLimit: { perIpPerMinute: number; perAccountPerMinute: number };
  refreshTokenTtlSeconds: number;
}

/**
 * The auth module: tenants (restaurants), staff, signup, login and sessions. Decorates
 * `app.auth` with its gateway and serves its routes under `/api/v1/auth`.
 */
export default fp<AuthModuleOptions>(
  async (app: FastifyInstance, opts) => {
    const gateway: AuthGateway = {
      async getTenant(uow) {
        const tenant = await authRepository.tenantById(uow.tx, uow.tenantId);
        if (!tenant) throw problems.notFound('The tenant of this token does not exist.');
        return toTenantProfile(tenant);
      },
    };
    app.decorate('auth', gateway);
    await app.register(authRoutes, {
      prefix: '/api/v1/auth',
      service: createAuthService(app, { refreshTokenTtlSeconds: opts.refreshTokenTtlSeconds }),
      loginRateLimit: opts.loginRateLimit,
    });
  },
  { name: 'auth', dependencies: ['database', 'auth-guard'] },
);
