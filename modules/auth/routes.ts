import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ROLES } from '../../shared/auth-guard.ts';
import { CurrencyCode, decodeCursor, PageQuery, pageOf, Timestamp } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import type { AuthService } from './service.ts';

// NIST SP 800-63B §5.1.1: at least 8 characters; we cap at 128 to bound hashing work.
const Password = z.string().min(8, 'must be at least 8 characters').max(128, 'must be at most 128 characters');
const Email = z.email().max(254);
const TimeZone = z
  .string()
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Paris')
  .describe('IANA time zone for reports');

const Tenant = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    currency: z.string(),
    taxRateBps: z.number().int(),
    timeZone: z.string(),
  })
  .meta({ id: 'Tenant' });
const Staff = z
  .object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), tenantId: z.uuid(), active: z.boolean(), createdAt: Timestamp })
  .meta({ id: 'Staff' });
const Token = { accessToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number().int().describe('Seconds') };

/** HTTP routes of the auth module, mounted at `/api/v1/auth`. */
export const authRoutes: FastifyPluginAsyncZod<{ service: AuthService }> = async (app, { service }) => {
  app.post(
    '/signup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create a restaurant (tenant) and its owner',
        body: z.object({
          restaurantName: z.string().trim().min(1).max(120),
          currency: CurrencyCode,
          email: Email,
          password: Password,
          taxRateBps: z.number().int().min(0).max(10_000).default(0).describe('Sales tax in basis points (825 = 8.25 %)'),
          timeZone: TimeZone.default('UTC'),
        }),
        response: {
          201: z.object({ tenant: Tenant, user: Staff, ...Token }),
          ...problemResponses(),
        },
      },
    },
    async (request, reply) => {
      const { tenant, user } = await service.signup(request.body);
      const token = app.issueAccessToken({ userId: user.id, tenantId: tenant.id, role: user.role });
      return reply.code(201).send({ tenant, user, ...token });
    },
  );

  app.post(
    '/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange tenant slug, email and password for an access token',
        body: z.object({ tenant: z.string().min(1).max(64).describe('Tenant slug'), email: z.string().min(1).max(254), password: z.string().min(1).max(128) }),
        response: { 200: z.object({ ...Token, user: Staff }), ...problemResponses(401) },
      },
    },
    async (request) => {
      const user = await service.login(request.body);
      return { ...app.issueAccessToken({ userId: user.id, tenantId: user.tenantId, role: user.role }), user };
    },
  );

  app.get(
    '/me',
    {
      config: { roles: 'any' },
      schema: {
        tags: ['auth'],
        summary: 'The calling staff member',
        response: { 200: z.object({ id: z.uuid(), email: z.string(), role: z.enum(ROLES), tenantId: z.uuid() }), ...problemResponses(401, 403) },
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
        tags: ['auth'],
        summary: 'Add a staff member (owner: manager or cashier; manager: cashier)',
        body: z.object({ email: Email, password: Password, role: z.enum(['manager', 'cashier']) }),
        response: { 201: Staff, ...problemResponses(401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await service.createUser(request.principal, request.body)),
  );

  app.get(
    '/users',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        tags: ['auth'],
        summary: 'List staff',
        querystring: PageQuery,
        response: { 200: pageOf(Staff), ...problemResponses(401, 403) },
      },
    },
    async (request) => service.listUsers(request.principal, request.query.limit, decodeCursor(request.query.cursor)),
  );
};
