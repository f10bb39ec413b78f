import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

/**
 * OpenAPI 3.1 document at `/docs/json` and Swagger UI at `/docs`, generated from the same zod
 * schemas that validate requests and serialise responses.
 */
export const apiDocsPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Restaurant POS API',
          version: '1.0.0',
          description:
            'Multi-tenant restaurant point-of-sale API. Money is an integer in minor units of the tenant currency. ' +
            'Errors are RFC 9457 problem details (application/problem+json).',
        },
        components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        tags: ['service', 'auth', 'restaurant', 'inventory', 'orders', 'payments', 'reporting'].map((name) => ({ name })),
      },
      transform: jsonSchemaTransform,
      transformObject: jsonSchemaTransformObject,
    });
    // staticCSP: the UI's own Content-Security-Policy, compatible with helmet's headers.
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'api-docs' },
);
