import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, emptyResponse, Id, jsonResponse, PageQuery, pageOf } from '../../shared/http-schemas.ts';
import { problemResponses, problems } from '../../shared/problem-details.ts';
import { paymentProblems, PaymentSchema } from './gateway.ts';
import { AuthoriseRequest, internalProblems, LookupRequest, ReleaseRequest, ServiceCallHeaders } from './internal-api.ts';
import type { PaymentsService } from './service.ts';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * The payments service's internal HTTP API (internal-api.ts), mounted at `/api/v1/payments` when
 * the module runs as its own service. Every route requires `Authorization: Bearer
 * <serviceToken>` (compared in constant time; 401 otherwise) and acts for the tenant in
 * `x-tenant-id`, inside that tenant's unit of work (row-level security).
 */
export const paymentsInternalRoutes: FastifyPluginAsyncZod<{ service: PaymentsService; serviceToken: string }> = async (app, { service, serviceToken }) => {
  const expected = digest(`Bearer ${serviceToken}`);
  app.addHook('onRoute', (route) => {
    if (route.config?.serviceToken !== true) throw new Error(`${route.method} ${route.url}: internal routes declare config.serviceToken`);
  });
  app.addHook('onRequest', async (request) => {
    const given = request.headers.authorization;
    if (typeof given !== 'string' || !timingSafeEqual(digest(given), expected)) {
      throw problems.unauthorized('Missing or wrong service token (Authorization: Bearer <SERVICE_TOKEN>).');
    }
  });
  const tags = ['payments (internal)'];
  const security = [{ serviceToken: [] }];

  app.post(
    '/authorisations',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'authorisePayment',
        tags,
        security,
        summary: 'Saga step 1: take a payment as authorised (idempotent under paymentId)',
        headers: ServiceCallHeaders,
        body: AuthoriseRequest,
        response: {
          201: jsonResponse(PaymentSchema, { description: 'The payment, authorised (shown as captured) until confirmed' }),
          ...problemResponses(paymentProblems.cardDeclined, paymentProblems.insufficientTender, paymentProblems.invalidCardToken, paymentProblems.paymentVoided, internalProblems.paymentIdConflict, 401),
        },
      },
    },
    async (request, reply) => {
      const { paymentId, ...input } = request.body;
      return reply.code(201).send(await service.authorise(request.headers['x-tenant-id'], { ...input, paymentId }));
    },
  );

  app.post(
    '/:id/confirm',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'confirmPayment',
        tags,
        security,
        summary: 'Saga step 2: the order committed; capture (idempotent)',
        headers: ServiceCallHeaders,
        params: z.object({ id: Id }),
        response: { 200: jsonResponse(PaymentSchema, { description: 'The payment, captured' }), ...problemResponses(paymentProblems.paymentVoided, 401, 404) },
      },
    },
    async (request) => service.confirm(request.headers['x-tenant-id'], request.params.id),
  );

  app.post(
    '/:id/void',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'releasePayment',
        tags,
        security,
        summary: 'Compensation: the order rolled back; void the authorisation (idempotent)',
        headers: ServiceCallHeaders,
        params: z.object({ id: Id }),
        body: ReleaseRequest,
        response: { 204: emptyResponse('Released (or was already)'), ...problemResponses(internalProblems.paymentAlreadyConfirmed, 401) },
      },
    },
    async (request, reply) => {
      await service.release(request.headers['x-tenant-id'], request.params.id, request.body);
      return reply.code(204).send();
    },
  );

  app.post(
    '/:id/refund',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'refundPayment',
        tags,
        security,
        summary: 'The order was cancelled: refund in full (idempotent)',
        headers: ServiceCallHeaders,
        params: z.object({ id: Id }),
        response: { 200: jsonResponse(PaymentSchema, { description: 'The payment, refunded' }), ...problemResponses(paymentProblems.paymentVoided, 401, 404) },
      },
    },
    async (request) => service.refundConfirmed(request.headers['x-tenant-id'], request.params.id),
  );

  app.post(
    '/lookup',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'lookupPayments',
        tags,
        security,
        summary: 'The payments with these ids (unknown ids are absent)',
        headers: ServiceCallHeaders,
        body: LookupRequest,
        response: { 200: jsonResponse(z.object({ items: z.array(PaymentSchema) }), { description: 'The payments found' }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: await service.lookup(request.headers['x-tenant-id'], request.body.ids) }),
  );

  app.get(
    '/:id',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'getPaymentInternal',
        tags,
        security,
        summary: 'Get a payment',
        headers: ServiceCallHeaders,
        params: z.object({ id: Id }),
        response: { 200: jsonResponse(PaymentSchema, { description: 'The payment' }), ...problemResponses(401, 404) },
      },
    },
    async (request) => service.get(request.headers['x-tenant-id'], request.params.id),
  );

  app.get(
    '',
    {
      config: { serviceToken: true },
      schema: {
        operationId: 'listPaymentsInternal',
        tags,
        security,
        summary: 'List payments, optionally of one order',
        headers: ServiceCallHeaders,
        querystring: PageQuery.extend({ orderId: Id.optional() }),
        response: { 200: jsonResponse(pageOf(PaymentSchema), { description: 'A page of payments' }), ...problemResponses(401) },
      },
    },
    async (request) =>
      service.list(request.headers['x-tenant-id'], { limit: request.query.limit, afterId: decodeCursor(request.query.cursor), orderId: request.query.orderId }),
  );
};
