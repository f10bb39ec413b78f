import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { inventoryGatewayProblems } from '../inventory/gateway.ts';
import { paymentProblems } from '../payments/gateway.ts';
import { decodeCursor, Id, Instant, jsonResponse, MinorUnits, PageQuery, pageOf, Text } from '../../shared/http-schemas.ts';
import { IdempotencyKeyHeader, idempotencyProblems, IdempotentReplayedHeader } from '../../shared/idempotency.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { MAX_ORDER_SUBTOTAL } from './pricing.ts';
import { orderProblems } from './problems.ts';
import { ORDER_STATUSES } from './schema.ts';
import type { OrdersService } from './service.ts';
import { MAX_QUANTITY, OrderSchema } from './views.ts';



const IdempotencyHeaders = z.looseObject({ 'idempotency-key': IdempotencyKeyHeader });

const PlaceOrderBody = z.strictObject({
  items: z
    .array(z.strictObject({ menuItemId: Id, quantity: z.number().int('must be a whole number').min(1).max(MAX_QUANTITY) }))
    .min(1, 'an order needs at least one item')
    .max(100),
  payment: z.discriminatedUnion('method', [
    z.strictObject({ method: z.literal('cash'), tendered: MinorUnits.describe('Cash handed over, minor units') }),
    z.strictObject({ method: z.literal('card'), token: Text.min(1).max(255).describe('Card token from the terminal (test: tok_visa)') }),
  ]),
  note: Text.max(500).optional(),
}).meta({
  examples: [
    { items: [{ menuItemId: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40', quantity: 2 }], payment: { method: 'cash', tendered: 3000 } },
    { items: [{ menuItemId: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40', quantity: 1 }], payment: { method: 'card', token: 'tok_visa' }, note: 'table 4' },
  ],
});

const ORDER_EXAMPLE = {
  id: '5f0c2d7a-1b3e-4c9d-8e6f-2a4b6c8d0e12',
  number: 42,
  status: 'paid',
  currency: 'USD',
  lines: [{ menuItemId: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40', name: 'Margherita', unitPrice: 1250, quantity: 2, lineTotal: 2500 }],
  subtotal: 2500,
  tax: 206,
  total: 2706,
  payment: { id: '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d', method: 'cash', amount: 2706, status: 'captured', change: 294 },
  note: null,
  createdAt: '2026-11-25T12:30:00.000Z',
  cancelledAt: null,
};

/** Headers of an answer to an idempotent write (first or replayed). */
const replayable = { 'Idempotent-Replayed': IdempotentReplayedHeader };

/** HTTP routes of the orders module, mounted at `/api/v1/orders`. */
export const ordersRoutes: FastifyPluginAsyncZod<{ service: OrdersService }> = async (app, { service }) => {

  app.post(
    '',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'placeOrder',
        tags: ['orders'],
        summary: 'Ring up and pay an order (one database transaction)',
        description:
          `Prices the lines (unit prices are snapshotted), takes tracked stock, and collects the payment, all or nothing. ` +
          `Limits: 1..100 lines, quantity 1..${MAX_QUANTITY}, subtotal at most ${MAX_ORDER_SUBTOTAL} minor units. ` +
          'With an `Idempotency-Key`, a retry with the same body gets the first answer again (`Idempotent-Replayed: true`) for 24 h.',
        headers: IdempotencyHeaders,
        body: PlaceOrderBody,
        response: {
          201: jsonResponse(OrderSchema, {
            description: 'The order, paid',
            headers: replayable,
            examples: { cash: { summary: 'Two pizzas paid in cash, 8.25 % tax', value: ORDER_EXAMPLE } },
          }),
          ...problemResponses(
            paymentProblems.cardDeclined,
            inventoryGatewayProblems.insufficientStock,
            idempotencyProblems.keyInUse,
            orderProblems.unknownMenuItem,
            orderProblems.menuItemUnavailable,
            orderProblems.orderTooLarge,
            paymentProblems.insufficientTender,
            paymentProblems.invalidCardToken,
            idempotencyProblems.keyReused,
          ),
        },
      },
    },
    async (request, reply) => app.idempotent(request, reply, 201, (guard) => service.place(request.principal, request.body, guard)),
  );

  app.get(
    '/:id',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'getOrder',
        tags: ['orders'],
        summary: 'Get an order',
        params: z.object({ id: Id }),
        response: { 200: jsonResponse(OrderSchema, { description: 'The order' }), ...problemResponses(404) },
      },
    },
    async (request) => service.get(request.principal, request.params.id),
  );

  app.get(
    '',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'listOrders',
        tags: ['orders'],
        summary: 'List orders (oldest first), filtered by status and creation time [from, to)',
        querystring: PageQuery.extend({
          status: z.enum(ORDER_STATUSES).optional(),
          from: Instant.optional().describe('Created at or after (ISO 8601)'),
          to: Instant.optional().describe('Created before (ISO 8601)'),
        }),
        response: { 200: jsonResponse(pageOf(OrderSchema), { description: 'A page of orders' }) },
      },
    },
    async (request) => {
      const q = request.query;
      return service.list(request.principal, {
        limit: q.limit,
        afterId: decodeCursor(q.cursor),
        status: q.status,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      });
    },
  );

  app.post(
    '/:id/cancel',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'cancelOrder',
        tags: ['orders'],
        summary: 'Cancel a paid order: refund the payment and restock, atomically',
        headers: IdempotencyHeaders,
        params: z.object({ id: Id }),
        response: {
          200: jsonResponse(OrderSchema, { description: 'The order, cancelled', headers: replayable }),
          ...problemResponses(404, orderProblems.orderAlreadyCancelled, idempotencyProblems.keyInUse, idempotencyProblems.keyReused),
        },
      },
    },
    async (request, reply) => app.idempotent(request, reply, 200, (guard) => service.cancel(request.principal, request.params.id, guard)),
  );
};
