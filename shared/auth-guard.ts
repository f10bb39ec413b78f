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

/** Who may call a route: a list of roles, or `'any'` for any authenticated staff member. */
export type RouteRoles = readonly Role[] | 'any';

/** One row of the permission matrix: a route and the roles allowed to call it. */
export interface Permission {
  method: string;
  url: string;
  roles: Role[];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Declares who may call the route; the auth guard then authenticates in `onRequest` (before
     * the body is even parsed), checks the role, documents both in OpenAPI and records the route
     * in the permission matrix. Routes without it are public.
     */
    roles?: RouteRoles;
  }
  interface FastifyInstance {
    /** Every guarded route with its allowed roles: the permission matrix, declared on the routes. */
    permissionMatrix(): readonly Permission[];
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
  async (app: FastifyInstance, opts: { secret: string; accessTokenTtlSeconds: number; refreshTokenTtlSeconds?: number }) => {
    await app.register(fastifyJwt, {
      secret: opts.secret,
      sign: { algorithm: 'HS256', expiresIn: opts.accessTokenTtlSeconds },
      // fast-jwt caches verified tokens (until they expire): the HMAC is not recomputed per request.
      verify: { algorithms: ['HS256'], cache: 10_000 },
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

    const requireRole = (...roles: Role[]) => {
      return async (request: FastifyRequest) => {
        const principal = await authenticate(request);
        if (roles.length > 0 && !roles.includes(principal.role)) {
          throw problems.forbidden(`This action needs one of the roles: ${roles.join(', ')}.`);
        }
        request.principal = principal;
      };
    };
    app.decorate('requireRole', requireRole);

    const matrix: Permission[] = [];
    app.decorate('permissionMatrix', () => matrix);
    app.addHook('onRoute', (route) => {
      const declared = route.config?.roles;
      if (!declared) return;
      const roles = declared === 'any' ? [...ROLES] : [...declared];
      const guard = requireRole(...roles);
      route.onRequest = [...(route.onRequest ? [route.onRequest].flat() : []), guard] as typeof route.onRequest;
      const schema = (route.schema ?? {}) as Record<string, unknown>;
      const note = `**Roles:** ${roles.join(', ')}. 401 without a valid token; 403 for other roles or a mismatching \`x-tenant-id\`.`;
      route.schema = {
        ...schema,
        security: bearerAuth,
        description: schema.description ? `${schema.description}\n\n${note}` : note,
        'x-roles': roles,
      } as typeof route.schema;
      const methods = [route.method].flat().filter((m) => m !== 'HEAD');
      for (const method of methods) matrix.push({ method, url: route.url, roles });
    });

    app.decorate('issueAccessToken', (principal: Principal) => ({
      accessToken: app.jwt.sign({ sub: principal.userId, tid: principal.tenantId, role: principal.role }),
      tokenType: 'Bearer' as const,
      expiresIn: opts.accessTokenTtlSeconds,
    }));
  },
  { name: 'auth-guard' },
);
