import fastifySwagger, { type SwaggerTransform } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { headersOfEmptyResponse, type BodyExample } from '../shared/http-schemas.ts';
import {
  kernelProblems as k,
  problemDefinitionsOf,
  problemResponse,
  type ProblemDefinition,
  type ResponseHeader,
} from '../shared/problem-details.ts';

/** Tags of the document, one per module plus the service endpoints, with what each covers. */
const API_TAGS = [
  { name: 'service', description: 'Liveness and readiness of an instance, for load balancers and orchestrators. No authentication.' },
  {
    name: 'auth',
    description:
      'Restaurants (tenants) and their staff: signup, login with a short-lived access token (JWT) and a rotating refresh token, staff with the roles owner > manager > cashier.',
  },
  { name: 'restaurant', description: 'The menu: items with a price in minor units, an optional SKU unique per restaurant, a category. Answers carry an `ETag`.' },
  { name: 'inventory', description: 'Stock per menu item. Only items with a stock record are tracked; the others are made to order and never run out. Stock is never negative.' },
  {
    name: 'orders',
    description:
      'The point of sale: an order is priced, paid (cash or card) and takes its stock in one database transaction; cancelling refunds and restocks atomically. Money-moving writes accept an `Idempotency-Key`.',
  },
  { name: 'payments', description: 'Payments taken for orders (read-only: they are made and refunded through orders).' },
  {
    name: 'reporting',
    description:
      'Sales, best sellers, payment mix and low stock for owners and managers, built from domain events (an order shows within about a second). Periods are `[from, to)` in the restaurant time zone, at most 400 days.',
  },
];

const DESCRIPTION = `Multi-tenant restaurant point-of-sale API.

**Conventions.** JSON in and out. Money is an integer in minor units of the restaurant's ISO 4217
currency (cents for USD). IDs are UUIDs; times are ISO 8601 in UTC. Lists take \`limit\` (1..100,
default 20) and an opaque \`cursor\`, and answer \`{items, nextCursor}\`.

**Errors** are RFC 9457 problem details (\`application/problem+json\`): \`{type, title, status,
detail, instance, requestId}\`, plus the members of the problem type (e.g. \`errors\` for a 400,
\`declineCode\` for a declined card, \`menuItemId\` for stock). \`type\` is \`about:blank\` for plain
HTTP errors or a \`urn:problem:pos:<slug>\` clients may switch on. Every error is one, including an
unknown route (404), malformed JSON (400), a body over the size limit (413) and what the HTTP layer
answers before any route: 408 (request not received in time), 431 (headers over 16 KiB) and 400
(not HTTP/1.1).

**Authentication.** \`Authorization: Bearer <access token>\` from \`POST /api/v1/auth/login\`. A
request may also send \`x-tenant-id\`: when it differs from the token's tenant the answer is 403.
Another restaurant's resource is a 404, never a 403.

**Limits.** Order: 1..100 lines, quantity 1..999, subtotal at most 10^12 minor units. Amounts
sent at most 10^11 minor units. Stock per item at most 1,000,000 units. Report periods at most 400
days. Login, refresh and signup are rate-limited per client (429 with \`Retry-After\`).

**Tracing.** Every answer carries \`x-request-id\` (the client's own, when it looks like an id).`;

/** `x-request-id` on every answer. */
const REQUEST_ID_HEADER: ResponseHeader = {
  description: "Id of this request in the server's logs: the client's `x-request-id` when it is 1-128 characters of `A-Z a-z 0-9 . _ : = + / -`, else a new UUID",
  schema: { type: 'string', minLength: 1, maxLength: 128 },
};

/** Request headers the kernel reads on every route (`x-request-id`) or every guarded route (`x-tenant-id`). */
const REQUEST_ID_PARAM = {
  type: 'string',
  pattern: '^[A-Za-z0-9._:=+/-]{1,128}$',
  description: "Your id for this request, echoed in the answer's `x-request-id`, problem bodies and logs (anything else is replaced by a UUID)",
};
const TENANT_ID_PARAM = {
  type: 'string',
  format: 'uuid',
  description: "Optional guard: the restaurant (tenant) you mean to act on. When it is not the access token's tenant, the answer is 403 and nothing happens.",
};
const IF_NONE_MATCH_PARAM = {
  type: 'string',
  maxLength: 200,
  description: 'The `ETag` of a previous answer: 304 without a body while it is still current',
};

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The problems the kernel answers on a route by what the route is (so each route lists only what
 * its own code throws): 400 on any input; 400/408/413/415 on methods with a body; 414 on path
 * parameters; 401/403 behind the auth guard; 422 `invalid-value`, 500 and 503 on `/api/` routes
 * (they use the database).
 */
function kernelProblemsOf(method: string, url: string, schema: Record<string, unknown>, guarded: boolean): ProblemDefinition[] {
  const out: ProblemDefinition[] = [];
  const hasBody = BODY_METHODS.has(method);
  if (schema.body || schema.querystring || schema.params || schema.headers || hasBody) out.push(k.validation, k.badRequest);
  if (hasBody) out.push(k.requestTimeout, k.payloadTooLarge, k.unsupportedMediaType);
  if (schema.params) out.push(k.uriTooLong);
  if (guarded) out.push(k.unauthorized, k.forbidden);
  if (url.startsWith('/api/')) {
    if (hasBody || schema.querystring || schema.params) out.push(k.invalidValue);
    out.push(k.internal, k.serviceUnavailable);
  }
  return out;
}

type ResponseEntry = {
  description?: string;
  headers?: Record<string, ResponseHeader>;
  content?: Record<string, { schema: unknown; examples?: Record<string, BodyExample> }>;
};

/** An OpenAPI header as @fastify/swagger reads it from a response schema: its JSON Schema with a description. */
const toSwaggerHeaders = (headers: Record<string, ResponseHeader>) =>
  Object.fromEntries(Object.entries(headers).map(([name, h]) => [name, { ...h.schema, description: h.description }]));

/** Adds header parameters to a route's (JSON Schema) `headers`. */
function withHeaderParams(json: unknown, params: Record<string, Record<string, unknown>>) {
  const base = (json ?? { type: 'object', properties: {} }) as { properties?: Record<string, unknown> };
  return { ...base, properties: { ...params, ...base.properties } };
}

/**
 * The route transform: fastify-type-provider-zod's (zod → JSON Schema), plus what the route
 * schema cannot say by itself: the kernel's problems merged into the route's own, response
 * headers and examples put where OpenAPI wants them, `security: []` on public routes, and the
 * request headers the kernel reads.
 */
const transform: SwaggerTransform = (input) => {
  const schema = input.schema as Record<string, unknown> | undefined;
  if (!schema || schema.hide || !input.route) return jsonSchemaTransform(input);
  const method = [input.route.method].flat()[0]!;
  const guarded = Boolean((input.route.config as { roles?: unknown } | undefined)?.roles);

  const response: Record<string, unknown> = { ...(schema.response as Record<string, unknown> | undefined) };
  for (const problem of kernelProblemsOf(method, input.url, schema, guarded)) {
    const existing = response[problem.status];
    const own = existing === undefined ? [] : problemDefinitionsOf(existing);
    if (!own) continue; // the route documents this status its own way
    response[problem.status] = problemResponse([...own, problem]);
  }

  // Headers and examples go around the zod → JSON Schema conversion, which keeps only schemas.
  const headers: Record<string, Record<string, ResponseHeader>> = {};
  const examples: Record<string, Record<string, Record<string, BodyExample>>> = {};
  for (const [status, value] of Object.entries(response)) {
    const entry = value as ResponseEntry;
    const problemHeaders = Object.assign({}, ...(problemDefinitionsOf(value) ?? []).map((d) => d.headers)) as Record<string, ResponseHeader>;
    headers[status] = { ...(entry.headers ?? headersOfEmptyResponse(value)), ...problemHeaders, 'x-request-id': REQUEST_ID_HEADER };
    if (entry.content) {
      examples[status] = Object.fromEntries(Object.entries(entry.content).flatMap(([ct, media]) => (media.examples ? [[ct, media.examples]] : [])));
      response[status] = {
        description: entry.description,
        content: Object.fromEntries(Object.entries(entry.content).map(([ct, media]) => [ct, { schema: media.schema }])),
      };
    }
  }

  const out = jsonSchemaTransform({ ...input, schema: { ...schema, response } } as Parameters<typeof jsonSchemaTransform>[0]);
  const outSchema = out.schema as Record<string, unknown> & { response: Record<string, Record<string, unknown>> };
  for (const [status, entry] of Object.entries(outSchema.response)) {
    entry.headers = toSwaggerHeaders(headers[status] ?? {});
    const content = entry.content as Record<string, Record<string, unknown>> | undefined;
    for (const [ct, named] of Object.entries(examples[status] ?? {})) if (content?.[ct]) content[ct].examples = named;
  }
  if (!outSchema.security) outSchema.security = [];
  outSchema.headers = withHeaderParams(outSchema.headers, {
    'x-request-id': REQUEST_ID_PARAM,
    ...(guarded ? { 'x-tenant-id': TENANT_ID_PARAM } : {}),
    ...(response['304'] ? { 'if-none-match': IF_NONE_MATCH_PARAM } : {}),
  });
  return out;
};

/** Every `$ref` target under `node`. */
function refsIn(node: unknown, into: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) refsIn(item, into);
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') into.add(value);
      else refsIn(value, into);
    }
  }
  return into;
}

/**
 * Removes the schemas nothing references, and orders the rest by name. fastify-type-provider-zod
 * emits every registered zod schema twice (input and output side); only the ones the operations
 * use belong in the document. It emits them in the order zod first saw them, i.e. the order the
 * modules were imported: a process that loaded them in another order (a test worker that ran
 * another file first) served the same document in another order.
 */
function pruneUnusedSchemas<T extends { components?: { schemas?: Record<string, unknown> } }>(doc: T): T {
  const schemas = doc.components?.schemas;
  if (!schemas) return doc;
  const prefix = '#/components/schemas/';
  const used = refsIn({ ...doc, components: { ...doc.components, schemas: {} } }, new Set());
  const pending = [...used];
  while (pending.length > 0) {
    const ref = pending.pop()!;
    for (const next of refsIn(schemas[ref.slice(prefix.length)], new Set())) {
      if (!used.has(next)) {
        used.add(next);
        pending.push(next);
      }
    }
  }
  const kept = Object.keys(schemas)
    .filter((name) => used.has(prefix + name))
    .sort();
  doc.components!.schemas = Object.fromEntries(kept.map((name) => [name, schemas[name]]));
  return doc;
}

/** What an OpenAPI document says about itself: title, description, tags and security schemes. */
export interface ApiDocument {
  title: string;
  description: string;
  tags: Array<{ name: string; description: string }>;
  securitySchemes: Record<string, { type: 'http'; scheme: 'bearer'; bearerFormat?: string; description: string }>;
  /** Default security of every operation (public routes override it with none). */
  security: Array<Record<string, string[]>>;
}

/** The public POS API's document (the default). */
const POS_API_DOCUMENT: ApiDocument = {
  title: 'Restaurant POS API',
  description: DESCRIPTION,
  tags: API_TAGS,
  securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Access token from `POST /api/v1/auth/login` (15 minutes by default)' } },
  security: [{ bearerAuth: [] }],
};

/** The tag of `/health` and `/ready`, for the documents of extracted services. */
export const SERVICE_TAG = API_TAGS[0]!;

/**
 * OpenAPI 3.1 document at `/docs/json` and Swagger UI at `/docs`, generated from the same zod
 * schemas that validate requests and serialise responses. Routes give `operationId`, `tags`,
 * `summary`, their own problems (`problemResponses`) and response headers (`jsonResponse`); this
 * plugin adds what the kernel does on every route (see {@link kernelProblemsOf}). The snapshot in
 * docs/openapi.json is written by `npm run openapi` and linted by `npm run lint:openapi`.
 */
export const apiDocsPlugin = fp(
  async (app: FastifyInstance, options: { document?: ApiDocument }) => {
    const document = options.document ?? POS_API_DOCUMENT;
    await app.register(fastifySwagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: document.title, version: '1.0.0', description: document.description },
        servers: [{ url: '/', description: 'The server that serves this document' }],
        components: { securitySchemes: document.securitySchemes },
        security: document.security,
        tags: document.tags,
      },
      transform,
      transformObject: (input) => pruneUnusedSchemas(jsonSchemaTransformObject(input) as { components?: { schemas?: Record<string, unknown> } }) as ReturnType<typeof jsonSchemaTransformObject>,
    });
    // staticCSP: the UI's own Content-Security-Policy, compatible with helmet's headers.
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'api-docs' },
);
