import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { problems } from './problem-details.ts';

/** Staff roles, strongest first: owner > manager > cashier. */
export const ROLES = ['owner', 'manager', 'cashier'] as const;
export type Role = (typeof ROLES)[number];

/** Who is calling: taken from a verified access token. */
export interface Principal {
  userId: string;
  tenantId: string;
  role: Role;
}

/** Claims inside an access token (`sub` = user id, `tid` = tenant id). */
export interface AccessTokenClaims {
  sub: string;
  tid: string;
  role: Role;
}

const ClaimsSchema = z.object({ sub: z.uuid(), tid: z.uuid(), role: z.enum(ROLES) });

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims;
    user: AccessTokenClaims;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * preHandler that requires a valid bearer token and, when given, one of `roles`.
     * 401 problem: missing/malformed/tampered/expired token. 403 problem: wrong role, or an
     * `x-tenant-id` header that differs from the token's tenant.
     */
    requireRole(...roles: Role[]): preHandlerAsyncHookHandler;
    /** Signs an access token for `principal`; lifetime from config (seconds). */
    issueAccessToken(principal: Principal): { accessToken: string; tokenType: 'Bearer'; expiresIn: number };
  }
  interface FastifyRequest {
    /** Set by {@link FastifyInstance.requireRole}; read it only on guarded routes. */
    principal: Principal;
  }
}

/** OpenAPI security requirement for routes guarded by `requireRole`. */
export const bearerAuth = [{ bearerAuth: [] }];

/**
 * Kernel plugin: JWT (HS256 via @fastify/jwt) access tokens that carry tenant and role, and the
 * `requireRole` guard. The tenant of every guarded request comes only from the verified token.
 */
export const authGuardPlugin = fp(
  async (app: FastifyInstance, opts: { secret: string; accessTokenTtlSeconds: number }) => {
    await app.register(fastifyJwt, {
      secret: opts.secret,
      sign: { algorithm: 'HS256', expiresIn: opts.accessTokenTtlSeconds },
      verify: { algorithms: ['HS256'] },
    });
    app.decorateRequest('principal', null as unknown as Principal);

    const authenticate = async (request: FastifyRequest): Promise<Principal> => {
      let claims: unknown;
      try {
        claims = await request.jwtVerify();
      } catch {
        throw problems.unauthorized();
      }
      const parsed = ClaimsSchema.safeParse(claims);
      if (!parsed.success) throw problems.unauthorized();
      const principal = { userId: parsed.data.sub, tenantId: parsed.data.tid, role: parsed.data.role };
      const claimedTenant = request.headers['x-tenant-id'];
      if (claimedTenant !== undefined && claimedTenant !== principal.tenantId) {
        throw problems.forbidden('The x-tenant-id header does not match the tenant of the access token.');
      }
      return principal;
    };

    app.decorate('requireRole', (...roles: Role[]) => {
      return async (request: FastifyRequest) => {
        const principal = await authenticate(request);
        if (roles.length > 0 && !roles.includes(principal.role)) {
          throw problems.forbidden(`This action needs one of the roles: ${roles.join(', ')}.`);
        }
        request.principal = principal;
      };
    });

    app.decorate('issueAccessToken', (principal: Principal) => ({
      accessToken: app.jwt.sign({ sub: principal.userId, tid: principal.tenantId, role: principal.role }),
      tokenType: 'Bearer' as const,
      expiresIn: opts.accessTokenTtlSeconds,
    }));
  },
  { name: 'auth-guard' },
);
