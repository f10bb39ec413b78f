import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Count, decodeCursor, Instant, jsonResponse, MAX_EXACT_INTEGER, Money, PageQuery, pageOf, QueryInt, Timestamp } from '../../shared/http-schemas.ts';
import { MAX_REPORT_DAYS, type ReportingService } from './service.ts';

/** A sum of amounts over a period, in minor units of `currency`. */
const Sum = Money(MAX_EXACT_INTEGER);
const Figures = {
  orders: Count(),
  gross: Sum,
  tax: Sum,
  refunds: Sum,
  net: z.number().int().min(-MAX_EXACT_INTEGER).max(MAX_EXACT_INTEGER).describe('gross - refunds (negative when refunds of earlier sales exceed the sales)'),
};
const Period = z.object({
  from: Instant.optional().describe(`Start, inclusive (ISO 8601); default 30 days before \`to\`. At most ${MAX_REPORT_DAYS} days before \`to\` (else 400).`),
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
        operationId: 'getSalesReport',
        summary: 'Sales by day or hour in the tenant time zone: orders, gross (tax included), tax, refunds, net',
        description: `The period is \`[from, to)\`, by default the last 30 days, at most ${MAX_REPORT_DAYS} days (400 \`validation-error\` otherwise). Buckets start at midnight (or the hour) in the restaurant's time zone.`,
        querystring: Period.extend({ groupBy: z.enum(['day', 'hour']).default('day') }),
        response: {
          200: jsonResponse(
            z.object({
              currency: z.string(),
              timeZone: z.string(),
              from: Timestamp,
              to: Timestamp,
              buckets: z.array(z.object({ start: Timestamp, ...Figures })),
              totals: z.object(Figures),
            }),
            {
              description: 'One bucket per day (or hour) with sales, and the totals',
              examples: {
                twoDays: {
                  summary: 'Two days, one refund',
                  value: {
                    currency: 'USD',
                    timeZone: 'America/New_York',
                    from: '2026-11-24T05:00:00.000Z',
                    to: '2026-11-26T05:00:00.000Z',
                    buckets: [
                      { start: '2026-11-24T05:00:00.000Z', orders: 12, gross: 32472, tax: 2472, refunds: 0, net: 32472 },
                      { start: '2026-11-25T05:00:00.000Z', orders: 9, gross: 24354, tax: 1854, refunds: 2706, net: 21648 },
                    ],
                    totals: { orders: 21, gross: 56826, tax: 4326, refunds: 2706, net: 54120 },
                  },
                },
              },
            },
          ),
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
        operationId: 'getTopItemsReport',
        summary: 'Best-selling menu items (units, then revenue) of orders paid in the period and not cancelled',
        querystring: Period.extend({ limit: QueryInt(1, 100).default(10).describe('How many items, 1..100 in decimal digits (default 10)') }),
        response: {
          200: jsonResponse(
            z.object({
              currency: z.string(),
              from: Timestamp,
              to: Timestamp,
              items: z.array(z.object({ menuItemId: z.uuid(), name: z.string(), quantity: Count(), revenue: Sum, orders: Count() })),
            }),
            { description: 'The best sellers, most units first' },
          ),
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
        operationId: 'getPaymentMixReport',
        summary: 'Orders paid in the period by payment method: count, gross, refunded, net',
        querystring: Period,
        response: {
          200: jsonResponse(
            z.object({
              currency: z.string(),
              from: Timestamp,
              to: Timestamp,
              methods: z.array(z.object({ method: z.enum(['cash', 'card']), orders: Count(), gross: Sum, refunds: Sum, net: Figures.net })),
            }),
            { description: 'One entry per payment method used in the period' },
          ),
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
        operationId: 'getLowStockReport',
        summary: 'Tracked items at or below their low-stock threshold',
        querystring: PageQuery,
        response: {
          200: jsonResponse(pageOf(z.object({ menuItemId: z.uuid(), onHand: Count(), lowStockThreshold: Count(), updatedAt: Timestamp })), {
            description: 'A page of items low on stock',
          }),
        },
      },
    },
    async (request) => service.lowStock(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor) }),
  );
};
