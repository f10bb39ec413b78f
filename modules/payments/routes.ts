import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, Id, jsonResponse, PageQuery, pageOf } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { PaymentSchema } from './gateway.ts';
import type { PaymentsService } from './service.ts';


/** HTTP routes of the payments module, mounted at `/api/v1/payments`. */
export const paymentsRoutes: FastifyPluginAsyncZod<{ service: PaymentsService }> = async (app, { service }) => {

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
    async (request) => service.get(request.principal, request.params.id),
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
      service.list(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor), orderId: request.query.orderId }),
  );
};
