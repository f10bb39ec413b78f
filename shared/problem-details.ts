import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { isDatabaseUnavailable } from './database-errors.ts';
import { sqlState } from './database.ts';

/**
 * Seconds a client is asked to wait (`Retry-After`) when the database cannot serve a request
 * (503 `service-unavailable`): about one reconnect cycle of the pool.
 */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/** Media type of every error response (RFC 9457 §3). */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** One invalid field of a 400 validation problem: `path` is dotted (`items.0.quantity`). */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * An RFC 9457 problem details object. `type` is `about:blank` for plain HTTP errors (then `title`
 * is the status phrase) or a `urn:problem:pos:<slug>` URI that clients may switch on.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/**
 * Throw this from any layer to answer with a problem. Extensions (e.g. `menuItemId`) are added
 * to the body as top-level members, as RFC 9457 §3.2 allows.
 */
export class ProblemError extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly extensions: Record<string, unknown>;
  constructor(status: number, detail: string, opts: { type?: string; title?: string; extensions?: Record<string, unknown> } = {}) {
    super(detail);
    this.name = 'ProblemError';
    this.status = status;
    this.type = opts.type ? `urn:problem:pos:${opts.type}` : 'about:blank';
    this.title = opts.title ?? STATUS_CODES[status] ?? 'Error';
    this.extensions = opts.extensions ?? {};
  }
}

/** Shorthands for the problems the API answers with; each returns a {@link ProblemError} to throw. */
export const problems = {
  badRequest: (detail: string, errors?: FieldError[]) =>
    new ProblemError(400, detail, { type: 'validation-error', title: 'Invalid request', extensions: errors ? { errors } : {} }),
  unauthorized: (detail = 'Missing, malformed, tampered or expired access token.') => new ProblemError(401, detail),
  forbidden: (detail = 'Your role does not allow this action.') => new ProblemError(403, detail),
  notFound: (detail: string) => new ProblemError(404, detail),
  conflict: (type: string, title: string, detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(409, detail, { type, title, extensions }),
  unprocessable: (type: string, title: string, detail: string, extensions?: Record<string, unknown>) =>
    new ProblemError(422, detail, { type, title, extensions }),
};

/** Prefix of every problem type this API defines (`urn:problem:pos:<slug>`); `about:blank` is the other type. */
const PROBLEM_TYPE_PREFIX = 'urn:problem:pos:';

/** One entry of a problem's `errors`: the field (dotted path) and what is wrong with it. */
export const FieldErrorSchema = z.object({
  path: z.string().describe('Where: `body.items.0.quantity`, `querystring.limit`, `headers.idempotency-key`, …'),
  message: z.string(),
});

/** The members every problem body has (RFC 9457 §3.1), plus this API's `requestId`. */
const problemMembers = {
  title: z.string().describe('Short summary of the problem type (for `about:blank`: the HTTP status phrase)'),
  detail: z.string().describe('Explanation specific to this occurrence, for people'),
  instance: z.string().optional().describe('Path of the request'),
  requestId: z.string().optional().describe('Same as the `x-request-id` response header: quote it when reporting a problem'),
};

/**
 * Zod schema of any problem body: the shape every error shares. Routes document each error with
 * its own problem type ({@link defineProblem}); this one is for clients that handle errors
 * generically.
 */
const ProblemSchema = z
  .object({
    type: z.string().describe('`about:blank` or a `urn:problem:pos:<slug>` problem type'),
    status: z.number().int().min(400).max(599),
    ...problemMembers,
    errors: z.array(FieldErrorSchema).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/** An OpenAPI header object (`schema` is JSON Schema), as a response documents it. */
export interface ResponseHeader {
  description: string;
  schema: Record<string, unknown>;
}

/** `Retry-After` (RFC 9110 §10.2.3) as this API sends it: whole seconds. */
export const RetryAfterHeader: ResponseHeader = {
  description: 'Seconds to wait before retrying',
  schema: { type: 'integer', minimum: 1, maximum: 86_400 },
};

/**
 * A problem type the API answers with: its status, `type` URI and title, and the zod schema of
 * its body (an OpenAPI component named `id`, with its extension members). `create` makes the
 * {@link ProblemError} to throw, so the thrower and the documentation share one definition.
 */
export interface ProblemDefinition<E extends z.ZodRawShape = z.ZodRawShape> {
  readonly id: string;
  readonly status: number;
  /** `about:blank` or `urn:problem:pos:<slug>`. */
  readonly type: string;
  readonly title: string;
  readonly schema: z.ZodType;
  /** Response headers sent with this problem (e.g. `Retry-After`). */
  readonly headers: Record<string, ResponseHeader>;
  create(detail: string, extensions: z.input<z.ZodObject<E>>): ProblemError;
}

/**
 * Declares a problem type. `slug` undefined means `about:blank` (a plain HTTP error whose title
 * is the status phrase). `extensions` are the members added to the body (RFC 9457 §3.2), e.g.
 * `{ menuItemId: z.uuid() }`.
 */
export function defineProblem<E extends z.ZodRawShape = Record<never, never>>(spec: {
  id: string;
  status: number;
  slug?: string;
  title?: string;
  description: string;
  extensions?: E;
  headers?: Record<string, ResponseHeader>;
}): ProblemDefinition<E> {
  const type = spec.slug ? `${PROBLEM_TYPE_PREFIX}${spec.slug}` : 'about:blank';
  const title = spec.title ?? STATUS_CODES[spec.status] ?? 'Error';
  const schema = z
    .object({
      type: z.literal(type),
      status: z.literal(spec.status),
      ...problemMembers,
      title: z.string().describe(`\`${title}\``),
      ...(spec.extensions ?? {}),
    })
    .meta({ id: spec.id, description: spec.description });
  return {
    id: spec.id,
    status: spec.status,
    type,
    title,
    schema,
    headers: spec.headers ?? {},
    create: (detail, extensions) =>
      new ProblemError(spec.status, detail, { ...(spec.slug ? { type: spec.slug } : {}), title, extensions: extensions as Record<string, unknown> }),
  };
}

/** The problems of the kernel and of the HTTP layer, which any route may answer with. */
export const kernelProblems = {
  validation: defineProblem({
    id: 'ValidationProblem',
    status: 400,
    slug: 'validation-error',
    title: 'Invalid request',
    description: 'The request (body, query, path or headers) is invalid; `errors` has one entry per bad field.',
    extensions: { errors: z.array(FieldErrorSchema).min(1) },
  }),
  badRequest: defineProblem({
    id: 'BadRequestProblem',
    status: 400,
    description: 'The request is malformed: a body that is not JSON, a URL that is not validly percent-encoded, or not valid HTTP/1.1.',
  }),
  unauthorized: defineProblem({
    id: 'UnauthorizedProblem',
    status: 401,
    description: 'Missing, malformed, tampered or expired access token, or a session that has ended. Sent with `WWW-Authenticate: Bearer`.',
  }),
  forbidden: defineProblem({
    id: 'ForbiddenProblem',
    status: 403,
    description: 'The token is valid, but its role does not allow the action, or `x-tenant-id` differs from its tenant.',
  }),
  notFound: defineProblem({
    id: 'NotFoundProblem',
    status: 404,
    description: 'No such resource in your restaurant (another tenant\'s resource is also a 404), or no such route.',
  }),
  requestTimeout: defineProblem({
    id: 'RequestTimeoutProblem',
    status: 408,
    description: 'The request (headers and body) did not arrive in time (`HTTP_REQUEST_TIMEOUT_MS`, 30 s by default). The connection is closed.',
  }),
  payloadTooLarge: defineProblem({
    id: 'PayloadTooLargeProblem',
    status: 413,
    description: 'The request body is over the size limit (`BODY_LIMIT_BYTES`, 100 KiB by default).',
  }),
  uriTooLong: defineProblem({
    id: 'UriTooLongProblem',
    status: 414,
    description: 'A path segment of the URL is too long (over 100 characters).',
  }),
  unsupportedMediaType: defineProblem({
    id: 'UnsupportedMediaTypeProblem',
    status: 415,
    description: 'The request body is not `application/json`.',
  }),
  invalidValue: defineProblem({
    id: 'InvalidValueProblem',
    status: 422,
    slug: 'invalid-value',
    title: 'Invalid value',
    description: 'A value got past validation but cannot be stored (out of range or not representable). Nothing was changed.',
  }),
  rateLimited: defineProblem({
    id: 'RateLimitedProblem',
    status: 429,
    slug: 'rate-limited',
    title: 'Too Many Requests',
    description: 'Too many attempts from this client (or for this account): retry after `Retry-After` seconds.',
    headers: { 'Retry-After': RetryAfterHeader },
  }),
  internal: defineProblem({
    id: 'InternalErrorProblem',
    status: 500,
    description: 'An unexpected error; the details are logged under `requestId`, never sent.',
  }),
  serviceUnavailable: defineProblem({
    id: 'ServiceUnavailableProblem',
    status: 503,
    slug: 'service-unavailable',
    title: 'Service Unavailable',
    description: 'The database is unavailable or overloaded right now: nothing was changed; retry after `Retry-After` seconds.',
    headers: { 'Retry-After': RetryAfterHeader },
  }),
} as const;

/** The kernel problem documented for a bare status number in {@link problemResponses}. */
const BY_STATUS: Record<number, ProblemDefinition> = {
  400: kernelProblems.validation,
  401: kernelProblems.unauthorized,
  403: kernelProblems.forbidden,
  404: kernelProblems.notFound,
  413: kernelProblems.payloadTooLarge,
  415: kernelProblems.unsupportedMediaType,
  429: kernelProblems.rateLimited,
  503: kernelProblems.serviceUnavailable,
};

/** A documented error response: its problem types, as `schema.response[status]` holds it. */
export interface ProblemResponse {
  description: string;
  content: { [PROBLEM_CONTENT_TYPE]: { schema: z.ZodType } };
}

/** The problem types behind each response made by {@link problemResponse}, for the API docs to merge. */
const definitionsOf = new WeakMap<object, readonly ProblemDefinition[]>();

/** The problem definitions of a response made by {@link problemResponse} (undefined for any other response). */
export function problemDefinitionsOf(response: unknown): readonly ProblemDefinition[] | undefined {
  return typeof response === 'object' && response !== null ? definitionsOf.get(response) : undefined;
}

/**
 * One error response (`application/problem+json`) that may carry any of `definitions` (all of
 * the same status): one schema, or a `oneOf` told apart by `type`.
 */
export function problemResponse(definitions: readonly ProblemDefinition[]): ProblemResponse {
  const unique = [...new Set(definitions)];
  const [first, second, ...rest] = unique.map((d) => d.schema as z.ZodObject);
  if (!first) throw new Error('problemResponse needs at least one problem definition');
  // Problem types told apart by their `type` literal make a oneOf; a generic problem (any type) an anyOf.
  const distinct = unique.every((d) => d.schema !== ProblemSchema);
  const schema = !second ? first : distinct ? z.discriminatedUnion('type', [first, second, ...rest]) : z.union([first, second, ...rest]);
  const description = unique.map((d) => `\`${d.type}\`: ${(d.schema.meta()?.description as string | undefined) ?? d.title}`).join('\n\n');
  const response = { description, content: { [PROBLEM_CONTENT_TYPE]: { schema } } } as ProblemResponse;
  definitionsOf.set(response, unique);
  return response;
}

/**
 * Error responses for a route's `schema.response`, grouped by status: pass the route's own problem
 * definitions, or a bare status for the kernel's generic problem of that status (401, 403, 404,
 * …). The API docs add what the kernel answers on every route of a kind (400 on input, 401/403
 * on guarded routes, 413/415 on bodies, 503), so a route lists only what its own code throws.
 */
export function problemResponses(...items: Array<number | ProblemDefinition>): Record<number, ProblemResponse> {
  const byStatus = new Map<number, ProblemDefinition[]>();
  for (const item of items) {
    const definition = typeof item === 'number' ? (BY_STATUS[item] ?? genericProblem(item)) : item;
    byStatus.set(definition.status, [...(byStatus.get(definition.status) ?? []), definition]);
  }
  return Object.fromEntries([...byStatus].map(([status, definitions]) => [status, problemResponse(definitions)]));
}

const generic = new Map<number, ProblemDefinition>();
/** A problem of `status` with any type, for statuses the kernel has no definition of (made once per status). */
function genericProblem(status: number): ProblemDefinition {
  let definition = generic.get(status);
  if (!definition) {
    const base = defineProblem({ id: `Problem${status}`, status, description: STATUS_CODES[status] ?? 'Error' });
    definition = { ...base, schema: ProblemSchema };
    generic.set(status, definition);
  }
  return definition;
}

/** The problem details body for `error` as answered to `request` (5xx details are hidden). */
export function problemFor(error: FastifyError | ProblemError, request: FastifyRequest): Problem {
  const base = { instance: request.url.split('?')[0], requestId: request.id };
  if (error instanceof ProblemError) {
    return { type: error.type, title: error.title, status: error.status, detail: error.message, ...base, ...error.extensions };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    const where = error.validationContext ?? 'request';
    // One entry per bad field: the first message of each path (later ones repeat the fault).
    const byPath = new Map<string, string>();
    for (const v of error.validation) {
      const at = [where, ...v.instancePath.split('/').filter(Boolean)];
      // Strict objects: one entry per unknown field, named by its own path (`body.items.0.discount`).
      const unknownKeys = v.keyword === 'unrecognized_keys' ? (v.params as { keys?: unknown }).keys : undefined;
      if (Array.isArray(unknownKeys)) {
        for (const key of unknownKeys) byPath.set([...at, String(key)].join('.'), 'is not a known field');
        continue;
      }
      const path = at.join('.');
      if (!byPath.has(path)) byPath.set(path, v.message ?? 'Invalid value');
    }
    const errors = [...byPath].map(([path, message]) => ({ path, message }));
    return {
      type: 'urn:problem:pos:validation-error',
      title: 'Invalid request',
      status: 400,
      detail: `The request ${where} is invalid: ${errors.length} problem(s).`,
      ...base,
      errors,
    };
  }
  if (isDataException(error)) {
    // Backstop: a value got past validation that PostgreSQL refuses (out of range, NUL, bad date).
    // The statement failed, so its transaction rolled back: nothing changed. No SQL in the answer.
    return {
      type: 'urn:problem:pos:invalid-value',
      title: 'Invalid value',
      status: 422,
      detail: 'A value in the request cannot be stored (out of range or not representable). Nothing was changed.',
      ...base,
    };
  }
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (malformed JSON, body too large, bad media type, JWT errors).
    const detail = error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? 'The request body is not valid JSON.' : error.message;
    return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, ...base };
  }
  if (isDatabaseUnavailable(error)) {
    // Database faults (unreachable, connection lost, out of connections, timeouts): transient,
    // so a 503 the client may retry after Retry-After, not a 500.
    return {
      type: 'urn:problem:pos:service-unavailable',
      title: 'Service Unavailable',
      status: 503,
      detail: 'The database is unavailable or overloaded right now; retry after the Retry-After delay.',
      ...base,
    };
  }
  return {
    type: 'about:blank',
    title: 'Internal Server Error',
    status: 500,
    detail: 'An unexpected error occurred. Quote the requestId when reporting it.',
    ...base,
  };
}

/**
 * True for PostgreSQL's *data exceptions* (SQLSTATE class 22: 22003 numeric out of range, 22021
 * NUL or bad encoding, 22007/22008 bad or out-of-range date-time, 22P02 bad text representation,
 * …), which mean a value of the request got past validation. Connection and server errors are
 * other classes and stay 5xx.
 */
function isDataException(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') ?? false;
}

/** Sends `problem` as `application/problem+json`. */
export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).serializer(JSON.stringify).send(problem);
}

/**
 * Kernel plugin: every error, an unknown route (404) included, becomes an RFC 9457 problem.
 * 5xx details are logged, never sent (no stack traces or SQL in responses).
 */
export const problemDetailsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError | ProblemError, request, reply) => {
      const problem = problemFor(error, request);
      const databaseUnavailable = problem.type === 'urn:problem:pos:service-unavailable';
      if (databaseUnavailable) request.log.warn({ err: error }, 'database unavailable: answered 503');
      else if (problem.status >= 500 && error instanceof ProblemError) request.log.warn({ status: problem.status, type: problem.type }, problem.detail);
      else if (problem.status >= 500) request.log.error({ err: error }, 'request failed');
      else if (isDataException(error)) request.log.warn({ err: error }, 'PostgreSQL refused a value that validation let through');
      else request.log.info({ status: problem.status, type: problem.type }, problem.detail);
      if (problem.status === 401) reply.header('www-authenticate', 'Bearer');
      // A problem may carry its own delay (e.g. the password-hashing queue); a database fault
      // asks for one reconnect cycle.
      const ownDelay = error instanceof ProblemError ? error.extensions.retryAfterSeconds : undefined;
      if (typeof ownDelay === 'number') reply.header('retry-after', String(ownDelay));
      else if (databaseUnavailable) reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS));
      return sendProblem(reply, problem);
    });
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, {
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: `No route ${request.method} ${request.url.split('?')[0]}.`,
        instance: request.url.split('?')[0],
        requestId: request.id,
      }),
    );
  },
  { name: 'problem-details' },
);
