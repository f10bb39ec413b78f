import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, Id, Instant, MinorUnits, PageQuery, Text, Timestamp } from '../../shared/http-schemas.ts';
import { IdempotencyKeyHeader } from '../../shared/idempotency.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { ORDER_STATUSES } from './schema.ts';
import type { OrdersService } from './service.ts';

const Money = z.number().int().describe('Minor units of `currency`');

const OrderSchema = z
  .object({
    id: z.uuid(),
    number: z.number().int().describe('Counts up per tenant from 1'),
    status: z.enum(ORDER_STATUSES),
    currency: z.string(),
    lines: z.array(
      z.object({ menuItemId: z.uuid(), name: z.string(), unitPrice: Money, quantity: z.number().int(), lineTotal: Money }),
    ),
    subtotal: Money,
    tax: Money.describe('round(subtotal × taxRateBps / 10000), half away from zero'),
    total: Money,
    payment: z.object({
      id: z.uuid(),
      method: z.enum(['cash', 'card']),
      amount: Money,
      status: z.enum(['captured', 'refunded']),
      change: Money.optional().describe('Cash only: tendered minus total'),
      refundedAt: Timestamp.optional(),
    }),
    note: z.string().nullable(),
    createdAt: Timestamp,
    cancelledAt: Timestamp.nullable(),
  })
  .meta({ id: 'Order' });

const IdempotencyHeaders = z.looseObject({ 'idempotency-key': IdempotencyKeyHeader });

const PlaceOrderBody = z.strictObject({
  items: z
    .array(z.strictObject({ menuItemId: Id, quantity: z.number().int('must be a whole number').min(1).max(999) }))
    .min(1, 'an order needs at least one item')
    .max(100),
  payment: z.discriminatedUnion('method', [
    z.strictObject({ method: z.literal('cash'), tendered: MinorUnits.describe('Cash handed over, minor units') }),
    z.strictObject({ method: z.literal('card'), token: Text.min(1).max(255).describe('Card token from the terminal (test: tok_visa)') }),
  ]),
  note: Text.max(500).optional(),
});

/** HTTP routes of the orders module, mounted at `/api/v1/orders`. */
export const ordersRoutes: FastifyPluginAsyncZod<{ service: OrdersService }> = async (app, { service }) => {

  app.post(
    '',
    {
      config: { roles: 'any' },
      schema: {
        tags: ['orders'],
        summary: 'Ring up and pay an order (one database transaction)',
        headers: IdempotencyHeaders,
        body: PlaceOrderBody,
        response: { 201: OrderSchema, ...problemResponses(401, 402, 403, 409, 422) },
      },
    },
    async (request, reply) => app.idempotent(request, reply, 201, (guard) => service.place(request.principal, request.body, guard)),
  );

  app.get(
    '/:id',
    {
      config: { roles: 'any' },
      schema: {
        tags: ['orders'],
        summary: 'Get an order',
        params: z.object({ id: Id }),
        response: { 200: OrderSchema, ...problemResponses(401, 403, 404) },
      },
    },
    async (request) => service.get(request.principal, request.params.id),
  );

  app.get(
    '',
    {
      config: { roles: 'any' },
      schema: {
        tags: ['orders'],
        summary: 'List orders (oldest first), filtered by status and creation time [from, to)',
        querystring: PageQuery.extend({
          status: z.enum(ORDER_STATUSES).optional(),
          from: Instant.optional().describe('Created at or after (ISO 8601)'),
          to: Instant.optional().describe('Created before (ISO 8601)'),
        }),
        response: { 200: z.object({ items: z.array(OrderSchema), nextCursor: z.string().nullable() }), ...problemResponses(401, 403) },
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
        tags: ['orders'],
        summary: 'Cancel a paid order: refund the payment and restock, atomically',
        headers: IdempotencyHeaders,
        params: z.object({ id: Id }),
        response: { 200: OrderSchema, ...problemResponses(401, 403, 404, 409, 422) },
      },
    },
    async (request, reply) => app.idempotent(request, reply, 200, (guard) => service.cancel(request.principal, request.params.id, guard)),
  );
};
