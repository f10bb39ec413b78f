import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { DependencyUnavailable, domainEvent, type EventHandler } from '../../shared/event-bus.ts';
import { encodeCursor } from '../../shared/http-schemas.ts';
import { newId } from '../../shared/ids.ts';
import type { ModuleEventPort } from '../../shared/module.ts';
import { ProblemError, problems } from '../../shared/problem-details.ts';
import type { RunInTenant, UnitOfWork } from '../../shared/unit-of-work.ts';
import {
  paymentProblems,
  PaymentSchema,
  type PaymentsGateway,
  type PaymentView,
  type RemotePaymentConfirmed,
  type RemotePaymentRefundRequested,
  type RemotePaymentReleased,
} from './gateway.ts';
import type { AuthoriseRequest, LookupRequest, ReleaseRequest } from './internal-api.ts';
import type { PaymentListOptions, PaymentQueries } from './service.ts';

/** Where the payments service runs and how to call it (from PAYMENTS_URL, SERVICE_TOKEN, SERVICE_TIMEOUT_MS). */
export interface RemotePaymentsOptions {
  /** Base URL of the payments service, without a trailing slash, e.g. `http://127.0.0.1:3001`. */
  url: string;
  /** Shared secret sent as `Authorization: Bearer …` (SERVICE_TOKEN). */
  serviceToken: string;
  /** Longest wait for one call (connect, answer and body), milliseconds. */
  timeoutMs: number;
}

/** Seconds a client is asked to wait (Retry-After) when the payments service did not answer. */
const PAYMENTS_RETRY_AFTER_SECONDS = 2;

const PaymentPage = z.object({ items: z.array(PaymentSchema), nextCursor: z.string().nullable() });
const PaymentList = z.object({ items: z.array(PaymentSchema) });

/** An answer of the payments service: status and parsed JSON body (undefined when empty). */
interface Answer {
  status: number;
  body: unknown;
}

/** Error codes of a connection that was never made: the request did not reach the service. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The innermost system error code of a fetch failure (`ECONNREFUSED`, …), if any. */
function errorCode(error: unknown): string | undefined {
  let found: string | undefined;
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') found = code;
  }
  return found;
}

/** True when `error` (a fetch failure) means the request never reached the service. */
function neverSent(error: unknown): boolean {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT.has(code)) return true;
  }
  return false;
}

/** The problem a 4xx answer of the service carries, rethrown here as the same problem. */
function problemOf(answer: Answer, what: string): ProblemError {
  const body = (answer.body ?? {}) as Record<string, unknown>;
  const { type, title, status: _status, detail, instance: _instance, requestId: _requestId, ...extensions } = body;
  const slug = typeof type === 'string' && type.startsWith('urn:problem:pos:') ? type.slice('urn:problem:pos:'.length) : undefined;
  return new ProblemError(answer.status, typeof detail === 'string' ? detail : `The payments service refused ${what}.`, {
    ...(slug ? { type: slug } : {}),
    ...(typeof title === 'string' ? { title } : {}),
    extensions,
  });
}

/** 503 with Retry-After for a request whose payment step could not reach the service. */
function unavailableProblem(error: DependencyUnavailable): ProblemError {
  return new ProblemError(503, `The payments service is unavailable right now (${error.message}); nothing was changed. Retry after the Retry-After delay.`, {
    type: 'service-unavailable',
    title: 'Service Unavailable',
    extensions: { retryAfterSeconds: PAYMENTS_RETRY_AFTER_SECONDS },
  });
}

/**
 * The payments module's client of the payments service (the module run on its own, README
 * "Extracting a module"): the same {@link PaymentsGateway} the module implements in-process,
 * over the internal HTTP API (internal-api.ts), plus the reads behind the public `GET /payments`
 * routes and the handlers that carry the saga's steps from the outbox to the service.
 *
 * The saga, per order (see the gateway's notes): `collect` chooses the payment id and authorises
 * at the service inside the caller's unit of work but before the caller writes anything; a
 * confirmation (`RemotePaymentConfirmed`) is published in the caller's transaction, and a release
 * (`RemotePaymentReleased`) in a new one just after the caller's rolled back (also when the
 * service's answer was lost: the release then refuses the late authorisation). `refund` checks
 * the payment and publishes `RemotePaymentRefundRequested` in the caller's transaction. Each step
 * is also sent at once after the commit (or rollback), before the caller answers, so that reads
 * through the service agree with the order in the usual case; the outbox event is what makes it
 * durable. The handlers retry while the service is down (`DependencyUnavailable`: redelivered,
 * attempts not used up); each step is idempotent at the service, so sending it twice is harmless
 * and a redelivery never charges twice.
 *
 * Errors: gateway calls answer 503 `service-unavailable` (Retry-After
 * {@link PAYMENTS_RETRY_AFTER_SECONDS}) when the service is unreachable, slow (`timeoutMs`),
 * answers 5xx, or refuses the service token; the service's 4xx problems are rethrown as they are.
 */
export function createRemotePayments(options: RemotePaymentsOptions, runInTenant: RunInTenant, events: ModuleEventPort, log: FastifyBaseLogger) {
  const base = `${options.url}/api/v1/payments`;

  /**
   * One call to the service. @throws DependencyUnavailable when it is unreachable, does not
   * answer within `timeoutMs`, answers 5xx/408/429, or refuses the service token (401/403).
   */
  const call = async (tenantId: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> => {
    let status: number;
    let text: string;
    try {
      const response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.serviceToken}`,
          'x-tenant-id': tenantId,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `no answer within ${options.timeoutMs} ms`
          : `${error instanceof Error ? error.message : String(error)}${errorCode(error) ? ` (${errorCode(error)})` : ''}`;
      const unavailable = new DependencyUnavailable(`payments service at ${options.url}: ${reason}`, { cause: error });
      if (neverSent(error)) Object.assign(unavailable, { neverSent: true });
      throw unavailable;
    }
    if (status === 401 || status === 403) {
      log.error({ status, url: options.url }, 'the payments service refused our SERVICE_TOKEN: is it the same on both sides?');
      throw new DependencyUnavailable(`payments service at ${options.url} refused the service token (${status})`);
    }
    if (status >= 500 || status === 408 || status === 429) throw new DependencyUnavailable(`payments service at ${options.url} answered ${status}`);
    return { status, body: text ? (JSON.parse(text) as unknown) : undefined };
  };

  /** `call` for a request's own work: an unavailable service becomes a 503 problem. */
  const request = async (tenantId: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> => {
    try {
      return await call(tenantId, method, path, body);
    } catch (error) {
      throw error instanceof DependencyUnavailable ? unavailableProblem(error) : error;
    }
  };

  /** A saga step's call (from the outbox): anything but `ok` is an error (retried, then parked). */
  const step = async (tenantId: string, path: string, ok: number, body?: unknown) => {
    const answer = await call(tenantId, 'POST', path, body);
    if (answer.status !== ok) {
      const problem = problemOf(answer, path);
      throw new Error(`payments service answered ${answer.status} ${problem.type} to POST ${path}: ${problem.message}`);
    }
  };

  /**
   * A saga step sent at once, besides its outbox event: usually done before the caller's answer
   * (so that `GET /payments` reads what the order says); when it fails, the outbox still carries
   * it, so the failure is only logged.
   */
  const fastPath = async (tenantId: string, path: string, ok: number, body?: unknown) => {
    try {
      await step(tenantId, path, ok, body);
    } catch (error) {
      log.warn({ err: error, path }, 'payments service step not done at once; the outbox retries it');
    }
  };

  const find = async (tenantId: string, paymentId: string): Promise<PaymentView | undefined> => {
    const answer = await request(tenantId, 'GET', `/${paymentId}`);
    if (answer.status === 404) return undefined;
    if (answer.status !== 200) throw problemOf(answer, 'the payment lookup');
    return PaymentSchema.parse(answer.body);
  };

  const gateway: PaymentsGateway = {
    async collect(uow: UnitOfWork, input) {
      const paymentId = newId();
      const release: RemotePaymentReleased['payload'] & z.input<typeof ReleaseRequest> = {
        paymentId,
        orderId: input.orderId,
        method: input.instruction.method,
        amount: input.amount,
        currency: input.currency,
      };
      // After the caller's rollback: the release goes to the outbox in a transaction of its own
      // (durable), then straight to the service (so that it is usually done before the answer).
      // If the outbox write fails (the database is what failed), the direct call is still tried.
      const releaseAfterRollback = async () => {
        const { paymentId: _id, ...body } = release;
        try {
          await runInTenant(uow.tenantId, (own) => events.publish(own, domainEvent<RemotePaymentReleased>(own, 'RemotePaymentReleased', release)));
        } finally {
          await fastPath(uow.tenantId, `/${paymentId}/void`, 204, body);
        }
      };
      const body: z.input<typeof AuthoriseRequest> = { paymentId, ...input };
      let answer: Answer;
      try {
        answer = await call(uow.tenantId, 'POST', '/authorisations', body);
      } catch (error) {
        // Lost or late answer: it may have been authorised there, so release it once we rolled back.
        if (error instanceof DependencyUnavailable && !(error as { neverSent?: boolean }).neverSent) uow.onRollback(releaseAfterRollback);
        throw error instanceof DependencyUnavailable ? unavailableProblem(error) : error;
      }
      if (answer.status !== 201) throw problemOf(answer, 'the payment');
      uow.onRollback(releaseAfterRollback);
      // The confirmation commits with the caller (outbox), and is also sent at once after the commit.
      await events.publish(uow, domainEvent<RemotePaymentConfirmed>(uow, 'RemotePaymentConfirmed', { paymentId, orderId: input.orderId }));
      uow.afterCommit(() => fastPath(uow.tenantId, `/${paymentId}/confirm`, 200));
      return PaymentSchema.parse(answer.body);
    },

    async refund(uow, paymentId) {
      const current = await find(uow.tenantId, paymentId);
      if (!current) throw problems.notFound('No such payment.');
      if (current.status === 'refunded') throw paymentProblems.alreadyRefunded.create('This payment was already refunded.', {});
      await events.publish(uow, domainEvent<RemotePaymentRefundRequested>(uow, 'RemotePaymentRefundRequested', { paymentId, orderId: current.orderId }));
      uow.afterCommit(() => fastPath(uow.tenantId, `/${paymentId}/refund`, 200));
      return { ...current, status: 'refunded', refundedAt: new Date().toISOString() };
    },

    find: (uow, paymentId) => find(uow.tenantId, paymentId),

    async findMany(uow, paymentIds) {
      if (paymentIds.length === 0) return new Map();
      const body: z.input<typeof LookupRequest> = { ids: [...new Set(paymentIds)] };
      const answer = await request(uow.tenantId, 'POST', '/lookup', body);
      if (answer.status !== 200) throw problemOf(answer, 'the payments lookup');
      return new Map(PaymentList.parse(answer.body).items.map((p) => [p.id, p]));
    },
  };

  const queries: PaymentQueries = {
    async get(tenantId, id) {
      const payment = await find(tenantId, id);
      if (!payment) throw problems.notFound('No such payment.');
      return payment;
    },
    async list(tenantId, opts: PaymentListOptions) {
      const query = new URLSearchParams({ limit: String(opts.limit) });
      if (opts.afterId) query.set('cursor', encodeCursor(opts.afterId));
      if (opts.orderId) query.set('orderId', opts.orderId);
      const answer = await request(tenantId, 'GET', `?${query}`);
      if (answer.status !== 200) throw problemOf(answer, 'the payments listing');
      return PaymentPage.parse(answer.body);
    },
  };


  const handlers = {
    confirmed: (async (_uow, event) => step(event.tenantId, `/${event.payload.paymentId}/confirm`, 200)) satisfies EventHandler<RemotePaymentConfirmed>,
    released: (async (_uow, event) => {
      const { paymentId, ...release } = event.payload;
      const body: z.input<typeof ReleaseRequest> = release;
      await step(event.tenantId, `/${paymentId}/void`, 204, body);
    }) satisfies EventHandler<RemotePaymentReleased>,
    refundRequested: (async (_uow, event) => step(event.tenantId, `/${event.payload.paymentId}/refund`, 200)) satisfies EventHandler<RemotePaymentRefundRequested>,
  };

  return { gateway, queries, handlers };
}
