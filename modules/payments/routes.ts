import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, Id, jsonResponse, PageQuery, pageOf } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { PaymentSchema } from './gateway.ts';
import type { PaymentQueries } from './service.ts';


/** HTTP routes of the payments module, mounted at `/api/v1/payments`. */
export const paymentsRoutes: FastifyPluginAsyncZod<{ queries: PaymentQueries }> = async (app, { queries }) => {

  app.get(
    '/:id',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'getPayment',
        tags: ['payments'],
        summary: 'Get a payment',
        params: z.object({ id: Id }),
        response: { 200: jsonResponse(PaymentSchema, { description: 'The payment' }), ...problemResponses(404) },
      },
    },
    async (request) => queries.get(request.principal.tenantId, request.params.id),
  );

  app.get(
    '',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'listPayments',
        tags: ['payments'],
        summary: 'List payments, optionally of one order',
        querystring: PageQuery.extend({ orderId: Id.optional() }),
        response: { 200: jsonResponse(pageOf(PaymentSchema), { description: 'A page of payments' }) },
      },
    },
    async (request) =>
      queries.list(request.principal.tenantId, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor), orderId: request.query.orderId }),
  );
};
