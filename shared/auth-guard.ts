import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, preHandlerAsyncHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
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
  /** The login session the token belongs to (it survives refreshes; logout ends it). */
  sessionId: string;
}

/**
 * Claims inside an access token (`sub` = user id, `tid` = tenant id, `sid` = session id); the
 * signer adds `iss`, `aud`, `iat` and `exp`.
 */
export interface AccessTokenClaims {
  sub: string;
  tid: string;
  role: Role;
  sid: string;
}

/**
 * Asks whether the session of a verified access token is still good (its user active, the
 * session not ended). Provided by the module that owns sessions and passed to the guard by the
 * composition root; it is on the hot path of every guarded request, so it should answer from a
 * short-lived cache, and answer synchronously (a boolean, not a promise) when the cache knows, so
 * that a request whose token and session are both known is let through without a promise or a
 * microtask. `true` lets the request through, `false` is a 401.
 */
export type SessionCheck = (session: { tenantId: string; userId: string; sessionId: string }) => boolean | Promise<boolean>;

/** `iss` and `aud` of access tokens: this API issues them for itself only. */
const ACCESS_TOKEN_ISSUER = 'pos-api';
const ACCESS_TOKEN_AUDIENCE = 'pos-api';
/** Clock skew tolerated on `exp`, `nbf` and `iat` between instances (seconds). */
const CLOCK_TOLERANCE_SECONDS = 1;

const ClaimsSchema = z.object({ sub: z.uuid(), tid: z.uuid(), role: z.enum(ROLES), sid: z.uuid(), iat: z.number(), exp: z.number() });

/** How many verified access tokens {@link authGuardPlugin} remembers (least recently used go first). */
const VERIFIED_TOKENS_MAX = 10_000;

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
    /**
     * A service-to-service route (an extracted module's internal API, e.g.
     * modules/payments/internal-routes.ts): callers hold the shared SERVICE_TOKEN, which the
     * plugin registering the route checks; staff tokens are not accepted. Read by the module
     * canvas (access "service token").
     */
    serviceToken?: true;
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
    /** Signs an access token for `principal` (its session included); lifetime from config (seconds). */
    issueAccessToken(principal: Principal): { accessToken: string; tokenType: 'Bearer'; expiresIn: number };
  }
  interface FastifyRequest {
    /** Set by {@link FastifyInstance.requireRole}; read it only on guarded routes. */
    principal: Principal;
  }
}

/** OpenAPI security requirement for routes guarded by `requireRole`. */
const bearerAuth = [{ bearerAuth: [] }];

/** Options of {@link authGuardPlugin}. */
export interface AuthGuardOptions {
  /** HS256 secret (32+ characters). */
  secret: string;
  /** Lifetime of access tokens, seconds. */
  accessTokenTtlSeconds: number;
  /** Revocation check run on every guarded request after the token verified (see {@link SessionCheck}). */
  sessionCheck: SessionCheck;
}

/**
 * Kernel plugin: JWT (HS256 via @fastify/jwt) access tokens that carry tenant, role and session,
 * and the `requireRole` guard. The tenant of every guarded request comes only from the verified
 * token. A token must carry `exp`, `iat`, this API's `iss` and `aud`, and must not be from the
 * future (`nbf`/`iat`, 1 s of clock skew allowed), as RFC 8725 (JWT best current practices) advises;
 * then `sessionCheck` must still vouch for its session, so logout and deactivation take effect
 * before the token expires.
 */
export const authGuardPlugin = fp(
  async (app: FastifyInstance, opts: AuthGuardOptions) => {
    await app.register(fastifyJwt, {
      secret: opts.secret,
      sign: { algorithm: 'HS256', expiresIn: opts.accessTokenTtlSeconds, iss: ACCESS_TOKEN_ISSUER, aud: ACCESS_TOKEN_AUDIENCE },
      verify: {
        algorithms: ['HS256'],
        allowedIss: ACCESS_TOKEN_ISSUER,
        allowedAud: ACCESS_TOKEN_AUDIENCE,
        requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub', 'tid', 'role', 'sid'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS * 1000,
        // fast-jwt caches verified tokens (until they expire): the HMAC is not recomputed per request.
        cache: 10_000,
      },
    });
    app.decorateRequest('principal', null as unknown as Principal);

    /**
     * Access tokens already verified (the exact token text → its principal and `exp`, seconds), so
     * a terminal's next request with the same token skips the JWT decode, the signature cache's
     * SHA-256 of the token and the claims parse (about a sixth of a cached menu read's CPU in a
     * `perf` profile). Only tokens that passed every check get in; each use still checks `exp`
     * (strictly, no skew allowed), and the session check below runs on every request.
     */
    const verified = new LRUCache<string, { principal: Principal; exp: number }>({ max: VERIFIED_TOKENS_MAX });
    /** The token of an `Authorization: Bearer <token>` header, or undefined. */
    const bearerToken = (request: FastifyRequest): string | undefined => {
      const header = request.headers.authorization;
      return header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    };
    /** The principal of a token verified before and not yet expired, or undefined. */
    const knownToken = (request: FastifyRequest): Principal | undefined => {
      const token = bearerToken(request);
      const known = token === undefined ? undefined : verified.get(token);
      return known !== undefined && Date.now() / 1000 < known.exp ? known.principal : undefined;
    };
    const verify = async (request: FastifyRequest): Promise<Principal> => {
      let claims: unknown;
      try {
        claims = await request.jwtVerify();
      } catch {
        throw problems.unauthorized();
      }
      const parsed = ClaimsSchema.safeParse(claims);
      if (!parsed.success) throw problems.unauthorized();
      // fast-jwt checks `iat` only against a maxAge: a token "issued" in the future is refused here.
      if (parsed.data.iat > Date.now() / 1000 + CLOCK_TOLERANCE_SECONDS) throw problems.unauthorized();
      const principal: Principal = { userId: parsed.data.sub, tenantId: parsed.data.tid, role: parsed.data.role, sessionId: parsed.data.sid };
      const token = bearerToken(request);
      if (token !== undefined) verified.set(token, { principal: Object.freeze(principal), exp: parsed.data.exp });
      return principal;
    };

    /** The role check, once the session is known to be live (or not). */
    const admitted = (principal: Principal, live: boolean, roles: readonly Role[]): Principal => {
      if (!live) throw problems.unauthorized('This session has ended (logout or deactivated user). Log in again.');
      if (roles.length > 0 && !roles.includes(principal.role)) {
        throw problems.forbidden(`This action needs one of the roles: ${roles.join(', ')}.`);
      }
      return principal;
    };
    /** The tenant header, the session and the role checks of a verified principal. */
    const admit = (request: FastifyRequest, principal: Principal, roles: readonly Role[]): Principal | Promise<Principal> => {
      const claimedTenant = request.headers['x-tenant-id'];
      if (claimedTenant !== undefined && claimedTenant !== principal.tenantId) {
        throw problems.forbidden('The x-tenant-id header does not match the tenant of the access token.');
      }
      const live = opts.sessionCheck(principal);
      return typeof live === 'boolean' ? admitted(principal, live, roles) : live.then((l) => admitted(principal, l, roles));
    };
    /**
     * The caller of `request`, allowed one of `roles` (any role when empty). Checks in order:
     * the token (401), the `x-tenant-id` header (403), the session (401), the role (403); throws
     * or rejects with those problems. Synchronous when the token was verified before and the
     * session check answers from its cache: a terminal's requests then cost no promise at all.
     */
    const authorize = (request: FastifyRequest, roles: readonly Role[]): Principal | Promise<Principal> => {
      const known = knownToken(request);
      return known !== undefined ? admit(request, known, roles) : verify(request).then((principal) => admit(request, principal, roles));
    };

    const requireRole = (...roles: Role[]) => {
      return async (request: FastifyRequest) => {
        request.principal = await authorize(request, roles);
      };
    };
    /** {@link requireRole} as a callback hook (what guarded routes get): no promise when it can answer at once. */
    const guard = (roles: readonly Role[]): onRequestHookHandler =>
      function authGuard(request, _reply, done) {
        let outcome: Principal | Promise<Principal>;
        try {
          outcome = authorize(request, roles);
        } catch (error) {
          done(error as Error);
          return;
        }
        if (outcome instanceof Promise) {
          outcome.then(
            (principal) => {
              request.principal = principal;
              done();
            },
            (error: Error) => done(error),
          );
          return;
        }
        request.principal = outcome;
        done();
      };
    app.decorate('requireRole', requireRole);

    const matrix: Permission[] = [];
    app.decorate('permissionMatrix', () => matrix);
    app.addHook('onRoute', (route) => {
      const declared = route.config?.roles;
      if (!declared) return;
      const roles = declared === 'any' ? [...ROLES] : [...declared];
      route.onRequest = [...(route.onRequest ? [route.onRequest].flat() : []), guard(roles)] as typeof route.onRequest;
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
      accessToken: app.jwt.sign({ sub: principal.userId, tid: principal.tenantId, role: principal.role, sid: principal.sessionId }),
      tokenType: 'Bearer' as const,
      expiresIn: opts.accessTokenTtlSeconds,
    }));
  },
  { name: 'auth-guard' },
);
