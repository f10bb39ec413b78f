import { createHash } from 'node:crypto';
import fastifyEtag from '@fastify/etag';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { TenantReadCache } from '../../shared/read-cache.ts';
import { compileResponseSerializer } from '../../shared/response-serializer.ts';
import { decodeCursor, emptyResponse, ETagHeader, Id, jsonResponse, MinorUnits, PageQuery, pageOf, Text } from '../../shared/http-schemas.ts';
import { problemResponses } from '../../shared/problem-details.ts';
import { restaurantProblems } from './problems.ts';
import type { RestaurantService } from './service.ts';
import { MenuItem } from './views.ts';

const Name = Text.trim().min(1).max(120);
const Sku = Text.trim().min(1).max(64).describe('Stock keeping unit, unique per restaurant');
const Category = Text.trim().min(1).max(60);

const ItemParams = z.object({ id: Id });
const MenuPage = pageOf(MenuItem);
const serializeMenuPage = compileResponseSerializer(MenuPage);

/** A page of the menu as sent: the JSON body, serialised once, and its ETag. */
export interface CachedMenuPage {
  body: string;
  etag: string;
}

const sendAsIs = (body: unknown) => body as string;

/** Every answer of this module carries an ETag (@fastify/etag); `If-None-Match` with it gets 304. */
const etag = { ETag: ETagHeader };
const notModified = () => emptyResponse('Not modified: unchanged since the `If-None-Match` ETag; no body', etag);
const MENU_ITEM_EXAMPLE = {
  id: '0b9f4c1e-6a3d-4e8b-9f2a-5c7d1e3b8a40',
  name: 'Margherita',
  sku: 'PIZ-MAR',
  price: 1250,
  currency: 'USD',
  category: 'pizza',
  available: true,
  createdAt: '2026-11-25T12:05:00.000Z',
  updatedAt: '2026-11-25T12:05:00.000Z',
};

/** HTTP routes of the restaurant module, mounted at `/api/v1/restaurant`. */
export const restaurantRoutes: FastifyPluginAsyncZod<{ service: RestaurantService; menuPages: TenantReadCache<CachedMenuPage> }> = async (app, { service, menuPages }) => {
  // ETag on every answer of this module; `If-None-Match` with the current one gets 304, no body.
  await app.register(fastifyEtag);

  app.post(
    '/menu-items',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'createMenuItem',
        tags: ['restaurant'],
        summary: 'Add a menu item',
        body: z
          .strictObject({ name: Name, sku: Sku.optional(), price: MinorUnits, category: Category.optional(), available: z.boolean().default(true) })
          .meta({ examples: [{ name: 'Margherita', sku: 'PIZ-MAR', price: 1250, category: 'pizza' }] }),
        response: {
          201: jsonResponse(MenuItem, { description: 'The new menu item', headers: etag, examples: { pizza: { summary: 'A pizza at 12.50', value: MENU_ITEM_EXAMPLE } } }),
          ...problemResponses(restaurantProblems.duplicateSku),
        },
      },
    },
    async (request, reply) => reply.code(201).send(await service.create(request.principal, request.body)),
  );

  app.get(
    '/menu-items',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'listMenuItems',
        tags: ['restaurant'],
        summary: 'List menu items (archived ones are hidden)',
        description:
          'Every terminal reads the menu often and it changes rarely, so pages are cached per restaurant and dropped by every write to the menu (on every instance). Send the `ETag` back as `If-None-Match` to get 304 while the page is unchanged.',
        querystring: PageQuery.extend({ category: Category.optional() }),
        response: { 200: jsonResponse(MenuPage, { description: 'A page of the menu', headers: etag }), 304: notModified() },
      },
    },
    async (request, reply) => {
      const opts = { limit: request.query.limit, afterId: decodeCursor(request.query.cursor), category: request.query.category };
      const page = await menuPages.get(request.principal.tenantId, `${opts.limit}|${opts.afterId ?? ''}|${opts.category ?? ''}`, async () => {
        const body = serializeMenuPage(await service.list(request.principal, opts));
        return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
      });
      return reply
        .header('etag', page.etag)
        .header('cache-control', 'private, no-cache')
        .type('application/json; charset=utf-8')
        .serializer(sendAsIs)
        .send(page.body as never); // already serialised with the response schema
    },
  );

  app.get(
    '/menu-items/:id',
    {
      config: { roles: 'any' },
      schema: {
        operationId: 'getMenuItem',
        tags: ['restaurant'],
        summary: 'Get a menu item',
        params: ItemParams,
        response: { 200: jsonResponse(MenuItem, { description: 'The menu item', headers: etag }), 304: notModified(), ...problemResponses(404) },
      },
    },
    async (request) => service.get(request.principal, request.params.id),
  );

  app.patch(
    '/menu-items/:id',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'updateMenuItem',
        tags: ['restaurant'],
        summary: 'Change a menu item (only the fields sent)',
        params: ItemParams,
        body: z
          .strictObject({ name: Name, sku: Sku.nullable(), price: MinorUnits, category: Category.nullable(), available: z.boolean() })
          .partial()
          // Only when the fields are otherwise valid: an unknown field alone is reported as such.
          .refine((b) => Object.keys(b).length > 0, { message: 'send at least one field', when: (payload) => payload.issues.length === 0 }),
        response: { 200: jsonResponse(MenuItem, { description: 'The menu item, changed', headers: etag }), ...problemResponses(404, restaurantProblems.duplicateSku) },
      },
    },
    async (request) => service.update(request.principal, request.params.id, request.body),
  );

  app.delete(
    '/menu-items/:id',
    {
      config: { roles: ['owner', 'manager'] },
      schema: {
        operationId: 'deleteMenuItem',
        tags: ['restaurant'],
        summary: 'Delete a menu item; an item that orders reference is archived instead (available: false)',
        params: ItemParams,
        response: { 204: emptyResponse('Deleted or archived'), ...problemResponses(404) },
      },
    },
    async (request, reply) => {
      await service.remove(request.principal, request.params.id);
      return reply.code(204).send();
    },
  );
};
