import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bearerAuth } from '../../shared/auth-guard.ts';
import { Timestamp } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import type { ReportingService } from './service.ts';

const Money = z.number().int().describe('Minor units of `currency`');
const Figures = { orders: z.number().int(), gross: Money, tax: Money, refunds: Money, net: Money.describe('gross - refunds') };

/** HTTP routes of the reporting module, mounted at `/api/v1/reports`. */
export const reportingRoutes: FastifyPluginAsyncZod<{ service: ReportingService }> = async (app, { service }) => {
  app.get(
    '/sales',
    {
      preHandler: app.requireRole('owner', 'manager'),
      schema: {
        tags: ['reporting'],
        summary: 'Sales by day or hour in the tenant time zone (default: the last 30 days)',
        security: bearerAuth,
        querystring: z.object({
          from: z.iso.datetime({ offset: true }).optional().describe('Start, inclusive (ISO 8601)'),
          to: z.iso.datetime({ offset: true }).optional().describe('End, exclusive (ISO 8601); default now'),
          groupBy: z.enum(['day', 'hour']).default('day'),
        }),
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
    async (request) =>
      service.sales(request.principal, {
        from: request.query.from ? new Date(request.query.from) : undefined,
        to: request.query.to ? new Date(request.query.to) : undefined,
        groupBy: request.query.groupBy,
      }),
  );
};
