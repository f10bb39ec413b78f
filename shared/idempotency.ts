import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import { integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { defineProblem, PROBLEM_CONTENT_TYPE, ProblemError, problemFor, problems, type ResponseHeader } from './problem-details.ts';
import { isUniqueViolation, queryRows } from './database.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/** The kernel's own PostgreSQL schema (infrastructure tables, no business data). */
export const kernelSchema = pgSchema('kernel');

/**
 * Responses stored under idempotency keys (Stripe's semantics, see `app.idempotent`). A key
 * belongs to a tenant; `request_hash` fingerprints method, path and body of the first request.
 * A row exists only once a request with the key finished (written in its transaction); while it
 * runs, the key is held by an advisory lock, not by a row.
 */
export const idempotencyKeys = kernelSchema.table(
  'idempotency_keys',
  {
    tenantId: uuid('tenant_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    /** Written `completed` only; `in_progress` rows (the former claim scheme) were deleted by migration 0003. */
    status: text('status', { enum: ['in_progress', 'completed'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseType: text('response_type'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'idempotency_keys_pk', columns: [t.tenantId, t.key] })],
);

/** How long a key replays its first response (Stripe: 24 h). */
export const IDEMPOTENCY_TTL_HOURS = 24;

/**
 * How often (ms) PostgreSQL checks that the client of a guarded transaction is still connected
 * while it runs a statement (e.g. waits on a row lock): a process that died mid-request loses its
 * session, hence its key, within this delay. PostgreSQL's `client_connection_check_interval`
 * (PostgreSQL 14+, Linux/BSD/macOS), set for the guarded transaction only.
 */
export const CLIENT_CHECK_INTERVAL_MS = 1000;

/** `Idempotency-Key` request header: 1..255 visible ASCII characters (a UUID is a good choice). */
export const IdempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
  .optional()
  .describe('Makes the request safe to retry: the same key with the same body replays the first response for 24 h.');

/** Problems of idempotent requests, documented by the routes that accept an `Idempotency-Key`. */
export const idempotencyProblems = {
  keyReused: defineProblem({
    id: 'IdempotencyKeyReusedProblem',
    status: 422,
    slug: 'idempotency-key-reused',
    title: 'Idempotency key reused',
    description: 'This Idempotency-Key was already used (within 24 h) with a different request: nothing was done.',
  }),
  keyInUse: defineProblem({
    id: 'IdempotencyKeyInUseProblem',
    status: 409,
    slug: 'idempotency-key-in-use',
    title: 'Request in progress',
    description: 'A request with this Idempotency-Key is still being processed: retry later to get its answer.',
  }),
};

/** `Idempotent-Replayed: true` on an answer replayed from a previous request with the same key. */
export const IdempotentReplayedHeader: ResponseHeader = {
  description: '`true` when this answer (status and body) is the stored answer to an earlier request with the same `Idempotency-Key`; absent otherwise',
  schema: { type: 'string', enum: ['true'] },
};

/**
 * The `Idempotency-Key` of one request, handed by `app.idempotent` to the service, which must
 * use it in the unit of work that has the request's effects:
 * - `enter(uow)` first, before any effect (before a card is authorised or a row locked). It takes
 *   the key for the life of this transaction, or throws (the caller lets it propagate; the unit of
 *   work rolls back having done nothing): the reply is then a replay, a 409
 *   `idempotency-key-in-use` or a 422 `idempotency-key-reused`. Its statement is sent at once,
 *   so await it together with the unit of work's first reads (`Promise.all`) to share their
 *   round trip, unless those lock rows.
 * - `complete(uow, result)` last: stores `result` as the key's response, committed with the effect.
 */
export interface IdempotencyGuard {
  enter(uow: UnitOfWork): Promise<void>;
  complete(uow: UnitOfWork, result: unknown): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Runs a money-moving write under the request's `Idempotency-Key`, if any, and sends the
     * reply. `run` receives the key's {@link IdempotencyGuard} (undefined without the header),
     * which the service uses inside its unit of work. Answers:
     * - first request: runs, stores the response (2xx or 4xx), sends it with `successStatus`;
     * - same key + same request, completed: replays status and body (`idempotent-replayed: true`);
     * - same key + different request: 422 `idempotency-key-reused`;
     * - same key while the first is still running: 409 `idempotency-key-in-use`.
     * "Still running" is judged by PostgreSQL: the first request's transaction holds a
     * transaction-level advisory lock on the key, however long it runs, and loses it when it
     * ends, its connection drops or its process dies. A 5xx stores nothing: a retry runs again.
     */
    idempotent<T>(request: FastifyRequest, reply: FastifyReply, successStatus: number, run: (guard?: IdempotencyGuard) => Promise<T>): Promise<FastifyReply>;
  }
}

const fingerprint = (request: FastifyRequest) =>
  createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n${JSON.stringify(request.body ?? null)}`)
    .digest('base64url');

/**
 * The advisory lock id of a key: the first 64 bits of SHA-256(tenant, key), as a signed bigint in
 * decimal. A collision (odds about n²/2⁶⁵ for n keys in flight at once) only makes one request
 * wait for a 409 retry; it can never merge two keys' responses (those are stored by tenant + key).
 */
export function advisoryLockId(tenantId: string, key: string): string {
  const digest = createHash('sha256').update(`idempotency\n${tenantId}\n${key}`).digest();
  return digest.readBigInt64BE(0).toString();
}

/** A stored response as `lockAndRead` sees it; `fresh` = younger than the TTL. */
interface Row {
  requestHash: string;
  responseStatus: number;
  responseBody: string;
  responseType: string;
  fresh: boolean;
}

/** What `enter` found, or what the request must answer instead of running. */
class KeyDecision extends Error {
  readonly replay: Row | undefined;
  readonly problem: ProblemError | undefined;
  constructor(answer: { replay: Row } | { problem: ProblemError }) {
    super('idempotency key decided the answer');
    this.replay = 'replay' in answer ? answer.replay : undefined;
    this.problem = 'problem' in answer ? answer.problem : undefined;
  }
}

/**
 * Kernel plugin: idempotency keys, their liveness held by PostgreSQL (a transaction-level
 * advisory lock per tenant + key), their responses stored in `kernel.idempotency_keys` in the
 * same transaction as the effect. Source of the semantics: Stripe API reference, "Idempotent
 * requests"; of the mechanism: PostgreSQL's advisory locks (`pg_try_advisory_xact_lock`).
 */
export const idempotencyPlugin = fp(
  async (app: FastifyInstance) => {
    const checkClient = app.database.kind === 'postgres' ? sql`set_config('client_connection_check_interval', ${String(CLIENT_CHECK_INTERVAL_MS)}, true), ` : sql``;

    /**
     * One statement: try the key's lock for this transaction, and read its stored row. (Both see
     * the statement's snapshot: if the previous holder committed between that snapshot and the
     * lock, the row looks absent, the request runs, and its INSERT of the key row then fails on
     * the primary key, rolling it all back; see `settle`.)
     */
    const lockAndRead = async (uow: Pick<UnitOfWork, 'tx' | 'tenantId'>, key: string) => {
      type Result = { locked: boolean; request_hash: string | null; response_status: number; response_body: string; response_type: string; fresh: boolean };
      const [r] = await queryRows<Result>(
        uow.tx,
        sql`select ${checkClient}pg_try_advisory_xact_lock(${advisoryLockId(uow.tenantId, key)}::bigint) as locked,
                   k.request_hash, k.response_status, k.response_body, k.response_type,
                   k.status = 'completed' and k.created_at > now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS}) as fresh
            from (select 1) as one left join ${idempotencyKeys} k on k.tenant_id = ${uow.tenantId} and k.key = ${key}`,
      );
      const row: Row | undefined =
        r!.request_hash === null
          ? undefined
          : { requestHash: r!.request_hash, responseStatus: r!.response_status, responseBody: r!.response_body, responseType: r!.response_type, fresh: r!.fresh };
      return { locked: r!.locked, row };
    };

    /** Writes the key's response (pipelined: it leaves with COMMIT); replaces a stale row first. */
    const store = (uow: Pick<UnitOfWork, 'tx' | 'tenantId' | 'pipeline'>, key: string, hash: string, stale: boolean, status: number, body: string, type: string) => {
      if (stale) uow.pipeline(uow.tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, uow.tenantId), eq(idempotencyKeys.key, key))).execute());
      // A plain INSERT: should a response already be stored (see `lockAndRead`), the primary key
      // refuses this one and the whole unit of work rolls back.
      uow.pipeline(uow.tx.insert(idempotencyKeys).values({ tenantId: uow.tenantId, key, requestHash: hash, status: 'completed', responseStatus: status, responseBody: body, responseType: type }).execute());
      // Now and then, forget this tenant's expired keys (a global sweep would need to bypass RLS).
      if (Math.random() < 0.01) {
        uow.pipeline(
          uow.tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, uow.tenantId), lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`))).execute(),
        );
      }
    };

    const replay = (reply: FastifyReply, row: Row) =>
      reply
        .code(row.responseStatus)
        .header('idempotent-replayed', 'true')
        .type(row.responseType)
        .serializer((payload: unknown) => payload as string)
        .send(row.responseBody);

    app.decorate('idempotent', async function <T>(request: FastifyRequest, reply: FastifyReply, successStatus: number, run: (guard?: IdempotencyGuard) => Promise<T>) {
      const header = request.headers['idempotency-key'];
      if (header === undefined) return reply.code(successStatus).send(await run());
      const parsedKey = IdempotencyKeyHeader.safeParse(header);
      if (!parsedKey.success || parsedKey.data === undefined) {
        throw problems.badRequest('The Idempotency-Key header is invalid.', [{ path: 'headers.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }]);
      }
      const key = parsedKey.data;
      const tenantId = request.principal.tenantId;
      const hash = fingerprint(request);

      /** Decides from the stored row (lock held): undefined = run; else the answer. */
      const decide = (row: Row | undefined): KeyDecision | undefined => {
        if (!row || !row.fresh) return undefined;
        if (row.requestHash !== hash) {
          return new KeyDecision({ problem: idempotencyProblems.keyReused.create('This Idempotency-Key was already used with a different request.', {}) });
        }
        return new KeyDecision({ replay: row });
      };
      const inUse = () =>
        new KeyDecision({ problem: idempotencyProblems.keyInUse.create('A request with this Idempotency-Key is still being processed; retry later.', {}) });

      let entered: { stale: boolean } | undefined;
      const guard: IdempotencyGuard = {
        async enter(uow) {
          const { locked, row } = await lockAndRead(uow, key);
          if (!locked) throw inUse();
          const decision = decide(row);
          if (decision) throw decision;
          entered = { stale: row !== undefined };
        },
        async complete(uow, result) {
          if (!entered) throw new Error('IdempotencyGuard.complete() called without enter() in the same unit of work');
          store(uow, key, hash, entered.stale, successStatus, JSON.stringify(result), 'application/json; charset=utf-8');
        },
      };

      try {
        const result = await run(guard);
        if (!entered) throw new Error('the service did not use the IdempotencyGuard it was given');
        return reply.code(successStatus).send(result);
      } catch (error) {
        if (error instanceof KeyDecision) {
          if (error.replay) return replay(reply, error.replay);
          throw error.problem ?? error;
        }
        if (entered && error instanceof ProblemError && error.status < 500) {
          // The effect rolled back; store the 4xx in a transaction of its own, under the lock
          // again (a retry that took the key meanwhile stores its own answer instead).
          const problem = problemFor(error, request);
          await app
            .runInTenant(tenantId, async (uow) => {
              const { locked, row } = await lockAndRead(uow, key);
              if (locked && !decide(row)) store(uow, key, hash, row !== undefined, problem.status, JSON.stringify(problem), PROBLEM_CONTENT_TYPE);
            })
            .catch((e: unknown) => request.log.error({ err: e }, 'could not store the problem answered to an idempotent request'));
        } else if (entered && isUniqueViolation(error)) {
          // Another request with this key completed just before we took its lock: answer as it did.
          const row = await app.runInTenant(tenantId, async (uow) => (await lockAndRead(uow, key)).row);
          const decision = decide(row);
          if (decision?.replay) return replay(reply, decision.replay);
          if (decision?.problem) throw decision.problem;
        }
        throw error;
      }
    });
  },
  { name: 'idempotency', dependencies: ['database', 'auth-guard'] },
);
