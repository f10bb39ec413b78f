import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyHttpOptions, FastifyInstance } from 'fastify';
import type { AppConfig } from '../shared/config.ts';
import { PROBLEM_CONTENT_TYPE, problemFor, sendProblem, type Problem } from '../shared/problem-details.ts';

/**
 * A client's `x-request-id` is echoed (in the response, problem bodies and logs) only when it is
 * 1–128 characters of letters, digits and `. _ : = + / -` (UUIDs, ULIDs, trace ids); anything
 * else is replaced by a fresh UUID, so a client cannot put arbitrary text in our logs and answers.
 */
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

/** The request id of `req`: the client's `x-request-id` when acceptable ({@link CLIENT_REQUEST_ID}), else a new UUID. */
function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * How often Node checks every connection against the headers and request timeouts (Node's
 * default is 30 s, which would let a slow client outlive a 10 s timeout by up to 30 s): a
 * quarter of the shorter timeout, between 50 ms and 1 s.
 */
function connectionsCheckingIntervalMs(http: AppConfig['http']): number {
  return Math.min(1000, Math.max(50, Math.floor(Math.min(http.headersTimeoutMs, http.requestTimeoutMs) / 4)));
}

/**
 * The Fastify server options that protect the process from slow and idle clients and make every
 * error the HTTP layer answers by itself an RFC 9457 problem:
 *
 * - `requestTimeout` (whole request, headers and body) and `headersTimeout` (headers; also a new
 *   connection that sends nothing) end slow-drip bodies and slowloris headers with a 408;
 * - `connectionTimeout` closes a socket idle in both directions (e.g. a client that stopped
 *   reading its response);
 * - `keepAliveTimeout` bounds idle keep-alive connections between requests;
 * - `clientErrorHandler` answers what Node's HTTP parser rejects (431 headers too large, 408,
 *   400 malformed) as problem+json; `frameworkErrors` does the same for Fastify's router (414
 *   path parameter too long, 400 malformed URL encoding);
 * - `genReqId` echoes a client's `x-request-id` only when it looks like an id ({@link requestIdOf}).
 *
 * The connection cap is set on the listening server by {@link limitConnections}.
 */
export function httpServerOptions(http: AppConfig['http']): FastifyHttpOptions<Server> {
  return {
    requestTimeout: http.requestTimeoutMs,
    keepAliveTimeout: http.keepAliveTimeoutMs,
    connectionTimeout: http.connectionTimeoutMs,
    // Options of Node's http.createServer that Fastify has no option of its own for.
    http: {
      requestTimeout: http.requestTimeoutMs,
      headersTimeout: http.headersTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(http),
    },
    requestIdHeader: false,
    genReqId: requestIdOf,
    clientErrorHandler,
    frameworkErrors(error, request, reply) {
      const problem = problemFor(error, request);
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') problem.detail = 'A path segment of the URL is too long.';
      else if (error.code === 'FST_ERR_BAD_URL') problem.detail = 'The URL is not validly percent-encoded.';
      request.log.info({ status: problem.status, code: error.code }, problem.detail);
      reply.header('x-request-id', request.id);
      sendProblem(reply, problem);
    },
  };
}

const CLIENT_ERROR_STATUS: Record<string, number> = {
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
};
const CLIENT_ERROR_DETAIL: Record<number, string> = {
  400: 'The request is not valid HTTP/1.1.',
  408: 'The request was not received in time.',
  413: 'The request has too large chunk extensions.',
  431: 'The request headers are too large (16 KiB at most, request line included).',
};

/**
 * Node's `clientError` listener (installed by Fastify, `this` is the app): answers an error of
 * the HTTP parser or a request/headers timeout with a problem+json written straight to the
 * socket (there is no request object), then closes the connection. Nothing is written when the
 * connection is gone or a response to it has already started.
 */
function clientErrorHandler(this: FastifyInstance, error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = CLIENT_ERROR_STATUS[error.code ?? ''] ?? 400;
  const requestId = randomUUID();
  const problem: Problem = { type: 'about:blank', title: STATUS_CODES[status]!, status, detail: CLIENT_ERROR_DETAIL[status]!, requestId };
  (this.log as FastifyBaseLogger).info({ reqId: requestId, status, code: error.code, remoteAddress: socket.remoteAddress }, `client error: ${problem.detail}`);
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(problem);
  const head = [
    `HTTP/1.1 ${status} ${problem.title}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `x-request-id: ${requestId}`,
    'Connection: close',
  ].join('\r\n');
  // Destroy once the answer is handed to the kernel (a plain end() would wait for the client).
  socket.write(`${head}\r\n\r\n${body}`, () => socket.destroy());
}

/**
 * Caps the open connections of `app`'s server at `max` (Node's `server.maxConnections`): a
 * connection beyond it is closed as soon as it is accepted (the client sees a reset and may
 * retry), while the open ones are served as usual. Refusals are logged as a warning at most
 * every 10 s, with their count.
 */
export function limitConnections(app: FastifyInstance, max: number): void {
  app.server.maxConnections = max;
  let refused = 0;
  let lastWarning = 0;
  app.server.on('drop', () => {
    refused++;
    const now = Date.now();
    if (now - lastWarning < 10_000) return;
    app.log.warn({ refused, maxConnections: max }, 'connections refused: HTTP_MAX_CONNECTIONS open connections reached');
    lastWarning = now;
    refused = 0;
  });
}
