import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, Instant, PageQuery, pageOf, QueryInt, Timestamp } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import type { ReportingService } from './service.ts';

const Money = z.number().int().describe('Minor units of `currency`');
const Figures = { orders: z.number().int(), gross: Money, tax: Money, refunds: Money, net: Money.describe('gross - refunds') };
const Period = z.object({
  from: Instant.optional().describe('Start, inclusive (ISO 8601); default 30 days before `to`'),
  to: Instant.optional().describe('End, exclusive (ISO 8601); default now'),
});
const toDates = (q: { from?: string | undefined; to?: string | undefined }) => ({
  from: q.from ? new Date(q.from) : undefined,
  to: q.to ? new Date(q.to) : undefined,
});
const common = { tags: ['reporting'] };

/** HTTP routes of the reporting module, mounted at `/api/v1/reports`; owners and managers only. */
export const reportingRoutes: FastifyPluginAsyncZod<{ service: ReportingService }> = async (app, { service }) => {

  app.get(
    '/sales',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        ...common,
        summary: 'Sales by day or hour in the tenant time zone: orders, gross (tax included), tax, refunds, net',
        querystring: Period.extend({ groupBy: z.enum(['day', 'hour']).default('day') }),
        response: {
          200: z.object({
            currency: z.string(),
            timeZone: z.string(),
            from: Timestamp,
            to: Timestamp,
            buckets: z.array(z.object({ start: Timestamp, ...Figures })),
            totals: z.object(Figures),
          }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => service.sales(request.principal, { ...toDates(request.query), groupBy: request.query.groupBy }),
  );

  app.get(
    '/top-items',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        ...common,
        summary: 'Best-selling menu items (units, then revenue) of orders paid in the period and not cancelled',
        querystring: Period.extend({ limit: QueryInt(1, 100).default(10).describe('How many items, 1..100 in decimal digits (default 10)') }),
        response: {
          200: z.object({
            currency: z.string(),
            from: Timestamp,
            to: Timestamp,
            items: z.array(z.object({ menuItemId: z.uuid(), name: z.string(), quantity: z.number().int(), revenue: Money, orders: z.number().int() })),
          }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => service.topItems(request.principal, { ...toDates(request.query), limit: request.query.limit }),
  );

  app.get(
    '/payment-mix',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        ...common,
        summary: 'Orders paid in the period by payment method: count, gross, refunded, net',
        querystring: Period,
        response: {
          200: z.object({
            currency: z.string(),
            from: Timestamp,
            to: Timestamp,
            methods: z.array(z.object({ method: z.enum(['cash', 'card']), orders: z.number().int(), gross: Money, refunds: Money, net: Money })),
          }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => service.paymentMix(request.principal, toDates(request.query)),
  );

  app.get(
    '/low-stock',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        ...common,
        summary: 'Tracked items at or below their low-stock threshold',
        querystring: PageQuery,
        response: {
          200: pageOf(z.object({ menuItemId: z.uuid(), onHand: z.number().int(), lowStockThreshold: z.number().int(), updatedAt: Timestamp })),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request) => service.lowStock(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor) }),
  );
};
