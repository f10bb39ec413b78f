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

/** Zod schema of a problem body, referenced from every route's error responses in OpenAPI. */
export const ProblemSchema = z
  .object({
    type: z.string().describe('`about:blank` or a `urn:problem:pos:<slug>` problem type'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .catchall(z.unknown())
  .meta({ id: 'Problem', description: 'RFC 9457 problem details' });

/**
 * Error responses for a route's `schema.response`, so OpenAPI shows them: pass the statuses the
 * route can answer with (400 is always included).
 */
export function problemResponses(...statuses: number[]): Record<number, typeof ProblemSchema> {
  const out: Record<number, typeof ProblemSchema> = { 400: ProblemSchema };
  for (const s of statuses) out[s] = ProblemSchema;
  return out;
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
export function isDataException(error: unknown): boolean {
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
