import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../../shared/auth-guard.ts';
import { CurrencyCode, decodeCursor, emptyResponse, jsonResponse, PageQuery, pageOf, Text } from '../../shared/http-schemas.ts';
import { kernelProblems, problemResponses, type ResponseHeader } from '../../shared/problem-details.ts';
import { authProblems } from './problems.ts';
import { loadTimeZoneCatalog } from '../../shared/time-zones.ts';
import type { AuthService } from './service.ts';
import { Staff } from './views.ts';

// NIST SP 800-63B §5.1.1: at least 8 characters; we cap at 128 to bound hashing work.
const Password = Text.min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');
const Email = z.email().max(254);

const Tenant = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    currency: z.string(),
    taxRateBps: z.number().int().min(0).max(10_000),
    timeZone: z.string(),
  })
  .meta({ id: 'Tenant' });
const Token = {
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().min(30).max(86_400).describe('Access token lifetime, seconds (15 min by default)'),
  refreshToken: z.string().describe('Opaque; exchange it at POST /refresh. Rotates on every use.'),
  refreshExpiresIn: z.number().int().min(86_400).max(365 * 86_400).describe('Refresh token lifetime, seconds'),
};

/** The headers @fastify/rate-limit sends on the rate-limited routes (signup, login, refresh). */
const rateLimitHeaders: Record<string, ResponseHeader> = {
  'x-ratelimit-limit': { description: 'Requests allowed per window for this client', schema: { type: 'integer', minimum: 1 } },
  'x-ratelimit-remaining': { description: 'Requests left in the current window', schema: { type: 'integer', minimum: 0 } },
  'x-ratelimit-reset': { description: 'Seconds until the window resets', schema: { type: 'integer', minimum: 0 } },
};
const noStoreHeaders: Record<string, ResponseHeader> = {
  'cache-control': { description: '`no-store`: token responses must not be cached (RFC 6749 §5.1)', schema: { type: 'string', enum: ['no-store'] } },
};
const TOKENS_EXAMPLE = {
  accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl',
  tokenType: 'Bearer',
  expiresIn: 900,
  refreshToken: 'rt_2b7e151628aed2a6abf7158809cf4f3c',
  refreshExpiresIn: 2_592_000,
};
const OWNER_EXAMPLE = {
  id: '3c6e0b8a-9c0d-4b8e-8f1a-2d3c4b5a6f70',
  email: 'luigi@example.com',
  role: 'owner',
  tenantId: '7d1f2e3c-4b5a-4c6d-9e8f-0a1b2c3d4e5f',
  active: true,
  createdAt: '2026-11-25T12:00:00.000Z',
};
const RefreshBody = z.strictObject({ refreshToken: Text.min(1).max(200) });

/** Options of the auth routes: the login rate limits (attempts per minute) and the signup limit (per hour). */
export interface AuthRoutesOptions {
  service: AuthService;
  loginRateLimit: { perIpPerMinute: number; perAccountPerMinute: number };
  signupRateLimitPerIpPerHour: number;
}

/** Token responses must not be stored by any cache (RFC 6749 §5.1). */
const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

/** HTTP routes of the auth module, mounted at `/api/v1/auth`. */
export const authRoutes: FastifyPluginAsyncZod<AuthRoutesOptions> = async (app, { service, loginRateLimit, signupRateLimitPerIpPerHour }) => {
  // Time zones are checked against PostgreSQL's own list: Intl accepts names it lacks.
  const zones = await loadTimeZoneCatalog(app.database.db);
  const TimeZone = Text.refine((tz) => zones.isKnown(tz), 'must be a time zone PostgreSQL knows, such as Europe/Paris, or a UTC offset such as -03:00').describe(
    'IANA time zone (as listed in PostgreSQL\'s pg_timezone_names) or a UTC offset `±HH:MM`, for reports',
  );
  // Login is rate-limited twice: per client IP (before the body is read) and per tenant + email
  // + client IP (password guessing against one account). The account limit includes the IP so
  // that an attacker elsewhere cannot lock a cashier out at the till; guessing from many IPs is
  // still bounded by each IP's limit and argon2's cost. 429 problem with Retry-After.
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      kernelProblems.rateLimited.create(`Too many attempts; retry in ${Math.ceil(context.ttl / 1000)} s.`, {}),
  });
  const perIp = app.rateLimit({ max: loginRateLimit.perIpPerMinute, timeWindow: 60_000, keyGenerator: (request: FastifyRequest) => `ip:${request.ip}` });
  // Each signup creates a tenant and costs an argon2 hash: a few per client IP per hour.
  const signupPerIp = app.rateLimit({ max: signupRateLimitPerIpPerHour, timeWindow: 3_600_000, keyGenerator: (request: FastifyRequest) => `signup:${request.ip}` });
  // A second limiter on the same route needs createRateLimit (rateLimit runs once per request).
  const accountLimit = app.createRateLimit({
    max: loginRateLimit.perAccountPerMinute,
    timeWindow: 60_000,
    keyGenerator: (request: FastifyRequest) => {
      const body = request.body as { tenant?: string; email?: string };
      return `account:${String(body.tenant).trim().toLowerCase()}:${String(body.email).trim().toLowerCase()}:${request.ip}`;
    },
  });
  // argon2 work is bounded (passwords.ts): its 503 problem's `retryAfterSeconds` becomes Retry-After (kernel error handler).
  const perAccount = async (request: FastifyRequest, reply: FastifyReply) => {
    const limit = await accountLimit(request);
    if (!limit.isAllowed && limit.isExceeded) {
      reply.header('retry-after', String(limit.ttlInSeconds));
      throw kernelProblems.rateLimited.create(`Too many login attempts for this account; retry in ${limit.ttlInSeconds} s.`, {});
    }
  };

  app.post(
    '/signup',
    {
      onRequest: signupPerIp,
      schema: {
        operationId: 'signup',
        security: [],
        tags: ['auth'],
        summary: 'Create a restaurant (tenant) and its owner',
        description:
          'Rate-limited per client IP (429 problem with Retry-After). A password on the list of the 10,000 most common ones is a 422 `password-too-common`; when password hashing is saturated, a 503 `password-hashing-busy` with Retry-After (nothing is created).',
        body: z.strictObject({
          restaurantName: Text.trim().min(1).max(120),
          currency: CurrencyCode,
          email: Email,
          password: Password,
          taxRateBps: z.number().int().min(0).max(10_000).default(0).describe('Sales tax in basis points (825 = 8.25 %)'),
          timeZone: TimeZone.default('UTC'),
        }).meta({ examples: [{ restaurantName: "Luigi's Pizza", currency: 'USD', email: 'luigi@example.com', password: 'correct horse battery', taxRateBps: 825, timeZone: 'America/New_York' }] }),
        response: {
          201: jsonResponse(z.object({ tenant: Tenant, user: Staff, ...Token }), {
            description: 'The restaurant, its owner, and tokens for the owner',
            headers: { ...rateLimitHeaders, ...noStoreHeaders },
            examples: {
              created: {
                summary: 'A new restaurant',
                value: {
                  tenant: { id: OWNER_EXAMPLE.tenantId, slug: 'luigis-pizza', name: "Luigi's Pizza", currency: 'USD', taxRateBps: 825, timeZone: 'America/New_York' },
                  user: OWNER_EXAMPLE,
                  ...TOKENS_EXAMPLE,
                },
              },
            },
          }),
          ...problemResponses(authProblems.passwordTooCommon, kernelProblems.rateLimited, authProblems.passwordHashingBusy),
        },
      },
    },
    async (request, reply) => {
      const { tenant, user, session, sessionId } = await service.signup(request.body);
      const token = app.issueAccessToken({ userId: user.id, tenantId: tenant.id, role: user.role, sessionId });
      return noStore(reply).code(201).send({ tenant, user, ...token, ...session });
    },
  );

  app.post(
    '/login',
    {
      onRequest: perIp,
      preHandler: perAccount,
      schema: {
        operationId: 'login',
        security: [],
        tags: ['auth'],
        summary: 'Exchange tenant slug, email and password for an access token and a refresh token',
        description:
          'Rate-limited per client IP and per tenant + email + client IP: 429 problem with a Retry-After header. When password hashing is saturated: 503 `password-hashing-busy` with Retry-After.',
        body: z
          .strictObject({ tenant: Text.min(1).max(64).describe('Tenant slug'), email: Text.min(1).max(254), password: Text.min(1).max(128) })
          .meta({ examples: [{ tenant: 'luigis-pizza', email: 'luigi@example.com', password: 'correct horse battery' }] }),
        response: {
          200: jsonResponse(z.object({ ...Token, user: Staff }), {
            description: 'Tokens for the staff member',
            headers: { ...rateLimitHeaders, ...noStoreHeaders },
            examples: { owner: { summary: 'The owner logged in', value: { ...TOKENS_EXAMPLE, user: OWNER_EXAMPLE } } },
          }),
          ...problemResponses(authProblems.invalidCredentials, kernelProblems.rateLimited, authProblems.passwordHashingBusy),
        },
      },
    },
    async (request, reply) => {
      const { user, session, sessionId } = await service.login(request.body);
      noStore(reply);
      return { ...app.issueAccessToken({ userId: user.id, tenantId: user.tenantId, role: user.role, sessionId }), ...session, user };
    },
  );

  app.post(
    '/refresh',
    {
      onRequest: perIp,
      schema: {
        operationId: 'refreshTokens',
        security: [],
        tags: ['auth'],
        summary: 'Rotate a refresh token: a new access token and a new refresh token',
        description: 'Each refresh token works once. Presenting a rotated one again revokes the whole session (stolen-token detection).',
        body: RefreshBody,
        response: {
          200: jsonResponse(z.object({ ...Token, user: Staff }), { description: 'New tokens; the refresh token sent is spent', headers: { ...rateLimitHeaders, ...noStoreHeaders } }),
          ...problemResponses(authProblems.invalidRefreshToken, kernelProblems.rateLimited),
        },
      },
    },
    async (request, reply) => {
      const { user, session, sessionId } = await service.refresh(request.body.refreshToken);
      noStore(reply);
      return { ...app.issueAccessToken({ userId: user.id, tenantId: user.tenantId, role: user.role, sessionId }), ...session, user };
    },
  );

  app.post(
    '/logout',
    {
      schema: {
        operationId: 'logout',
        security: [],
        tags: ['auth'],
        summary: 'End the session of a refresh token (always 204)',
        body: RefreshBody,
        response: { 204: emptyResponse('Session ended (or there was none)') },
      },
    },
    async (request, reply) => {
      await service.logout(request.body.refreshToken);
      return reply.code(204).send();
    },
  );

  app.get(
    '/me',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'getCurrentUser',
        tags: ['auth'],
        summary: 'The calling staff member',
        response: { 200: jsonResponse(z.object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), tenantId: z.uuid() }), { description: 'The staff member of the access token' }) },
      },
    },
    async (request) => {
      const { id, email, role, tenantId } = await service.me(request.principal);
      return { id, email, role, tenantId };
    },
  );

  app.post(
    '/users',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'createUser',
        tags: ['auth'],
        summary: 'Add a staff member (owner: manager or cashier; manager: cashier)',
        description: 'A password on the list of the 10,000 most common ones is a 422 `password-too-common`.',
        body: z.strictObject({ email: Email, password: Password, role: z.enum(['manager', 'cashier']) }),
        response: {
          201: jsonResponse(Staff, { description: 'The new staff member' }),
          ...problemResponses(authProblems.emailTaken, authProblems.passwordTooCommon, authProblems.passwordHashingBusy),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createUser(request.principal, request.body)),
  );

  app.patch(
    '/users/:id',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'setUserActive',
        tags: ['auth'],
        summary: 'Activate or deactivate a staff member (deactivation ends their sessions)',
        params: z.object({ id: z.uuid() }),
        body: z.strictObject({ active: z.boolean() }),
        response: { 200: jsonResponse(Staff, { description: 'The staff member' }), ...problemResponses(404) },
      },
    },
    async (request) => service.setActive(request.principal, request.params.id, request.body.active),
  );

  app.get(
    '/users',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'listUsers',
        tags: ['auth'],
        summary: 'List staff',
        querystring: PageQuery,
        response: { 200: jsonResponse(pageOf(Staff), { description: 'A page of staff' }) },
      },
    },
    async (request) => service.listUsers(request.principal, request.query.limit, decodeCursor(request.query.cursor)),
  );
};
