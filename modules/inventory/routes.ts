import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { decodeCursor, Id, jsonResponse, PageQuery, pageOf } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { inventoryProblems } from './problems.ts';
import { MAX_ON_HAND } from './gateway.ts';
import { ADJUSTMENT_REASONS } from './schema.ts';
import type { InventoryService } from './service.ts';
import { StockLevel } from './views.ts';

const Units = z.number().int('must be a whole number of units');
const ItemParams = z.object({ menuItemId: Id });

/** HTTP routes of the inventory module, mounted at `/api/v1/inventory`. */
export const inventoryRoutes: FastifyPluginAsyncZod<{ service: InventoryService }> = async (app, { service }) => {

  app.put(
    '/items/:menuItemId',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'setStockLevel',
        tags: ['inventory'],
        summary: 'Set the stock of a menu item (starts tracking it)',
        params: ItemParams,
        body: z.strictObject({ onHand: Units.min(0).max(MAX_ON_HAND), lowStockThreshold: Units.min(0).max(MAX_ON_HAND).optional() }),
        response: { 200: jsonResponse(StockLevel, { description: 'The stock level' }), ...problemResponses(404) },
      },
    },
    async (request) => service.setLevel(request.principal, request.params.menuItemId, request.body),
  );

  app.post(
    '/items/:menuItemId/adjustments',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'adjustStock',
        tags: ['inventory'],
        summary: `Add or remove stock; a result below zero or above ${MAX_ON_HAND} is refused (409)`,
        params: ItemParams,
        body: z.strictObject({
          delta: Units.min(-MAX_ON_HAND).max(MAX_ON_HAND).refine((d) => d !== 0, 'must not be zero'),
          reason: z.enum(ADJUSTMENT_REASONS),
        }),
        response: {
          201: jsonResponse(StockLevel, { description: 'The new stock level' }),
          ...problemResponses(404, inventoryProblems.insufficientStock, inventoryProblems.stockLimitExceeded),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await service.adjust(request.principal, request.params.menuItemId, request.body)),
  );

  app.get(
    '/items/:menuItemId',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'getStockLevel',
        tags: ['inventory'],
        summary: 'Stock of a tracked menu item',
        params: ItemParams,
        response: { 200: jsonResponse(StockLevel, { description: 'The stock level' }), ...problemResponses(404) },
      },
    },
    async (request) => service.get(request.principal, request.params.menuItemId),
  );

  app.get(
    '/items',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'listStockLevels',
        tags: ['inventory'],
        summary: 'List tracked items; lowStock=true keeps those at or below their threshold',
        querystring: PageQuery.extend({ lowStock: z.enum(['true', 'false']).transform((v) => v === 'true').optional() }),
        response: { 200: jsonResponse(pageOf(StockLevel), { description: 'A page of stock levels' }) },
      },
    },
    async (request) =>
      service.list(request.principal, { limit: request.query.limit, afterId: decodeCursor(request.query.cursor), lowStock: request.query.lowStock }),
  );
};
