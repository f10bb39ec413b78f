import { createHash } from 'node:crypto';
import { and, eq, lt, sql } from 'drizzle-orm';
import { integer, pgSchema, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { PROBLEM_CONTENT_TYPE, ProblemError, problemFor, problems } from './problem-details.ts';
import type { UnitOfWork } from './unit-of-work.ts';

/** The kernel's own PostgreSQL schema (infrastructure tables, no business data). */
export const kernelSchema = pgSchema('kernel');

/**
 * Stored idempotency keys (Stripe's semantics, see `IdempotencyStore`). A key belongs to a
 * tenant; `request_hash` fingerprints method, path and body of the first request.
 */
export const idempotencyKeys = kernelSchema.table(
  'idempotency_keys',
  {
    tenantId: uuid('tenant_id').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    status: text('status', { enum: ['in_progress', 'completed'] }).notNull(),
    responseStatus: integer('response_status'),
    responseBody: text('response_body'),
    responseType: text('response_type'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lockedAt: timestamp('locked_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'idempotency_keys_pk', columns: [t.tenantId, t.key] })],
);

/** How long a key replays its first response (Stripe: 24 h). */
export const IDEMPOTENCY_TTL_HOURS = 24;
/** An `in_progress` key older than this is taken to be abandoned (its process died) and may be retried. */
export const IDEMPOTENCY_LOCK_SECONDS = 60;

/** `Idempotency-Key` request header: 1..255 visible ASCII characters (a UUID is a good choice). */
export const IdempotencyKeyHeader = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1 to 255 visible ASCII characters')
  .optional()
  .describe('Makes the request safe to retry: the same key with the same body replays the first response for 24 h.');

/** Called by a service inside its unit of work, just before commit, with the result it returns. */
export type CommitHook = (uow: UnitOfWork, result: unknown) => Promise<void>;

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Runs a money-moving write under the request's `Idempotency-Key`, if any, and sends the
     * reply. `run` receives a hook that the service must await inside its unit of work (so the
     * stored response commits atomically with the effect). Answers:
     * - first request: runs, stores the response (2xx or 4xx), sends it with `successStatus`;
     * - same key + same request, completed: replays status and body (`idempotent-replayed: true`);
     * - same key + different request: 422 `idempotency-key-reused`;
     * - same key while the first is still running: 409 `idempotency-key-in-use`.
     * A 5xx releases the key so that the client may retry.
     */
    idempotent<T>(request: FastifyRequest, reply: FastifyReply, successStatus: number, run: (onCommit?: CommitHook) => Promise<T>): Promise<FastifyReply>;
  }
}

const fingerprint = (request: FastifyRequest) =>
  createHash('sha256')
    .update(`${request.method} ${request.url.split('?')[0]}\n${JSON.stringify(request.body ?? null)}`)
    .digest('base64url');

/**
 * Kernel plugin: idempotency keys stored in PostgreSQL (table `kernel.idempotency_keys`).
 * Source of the semantics: Stripe API reference, "Idempotent requests".
 */
export const idempotencyPlugin = fp(
  async (app: FastifyInstance) => {
    type Row = typeof idempotencyKeys.$inferSelect;

    /** Claims the key or tells what the caller must answer instead. */
    const claim = (tenantId: string, key: string, hash: string) =>
      app.runInTenant(tenantId, async ({ tx }): Promise<{ claimed: true } | { claimed: false; row: Row }> => {
        const inserted = await tx.insert(idempotencyKeys).values({ tenantId, key, requestHash: hash, status: 'in_progress' }).onConflictDoNothing().returning();
        if (inserted.length > 0) {
          // Now and then, forget this tenant's expired keys (a global sweep would need to bypass RLS).
          if (Math.random() < 0.01) {
            await tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, tenantId), lt(idempotencyKeys.createdAt, sql`now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})`)));
          }
          return { claimed: true };
        }
        // Taken: expired keys and abandoned in-progress keys may be taken over, atomically.
        const takenOver = await tx
          .update(idempotencyKeys)
          .set({ requestHash: hash, status: 'in_progress', responseStatus: null, responseBody: null, responseType: null, createdAt: sql`now()`, lockedAt: sql`now()` })
          .where(
            and(
              eq(idempotencyKeys.tenantId, tenantId),
              eq(idempotencyKeys.key, key),
              sql`(${idempotencyKeys.createdAt} < now() - make_interval(hours => ${IDEMPOTENCY_TTL_HOURS})
                   or (${idempotencyKeys.status} = 'in_progress' and ${idempotencyKeys.requestHash} = ${hash}
                       and ${idempotencyKeys.lockedAt} < now() - make_interval(secs => ${IDEMPOTENCY_LOCK_SECONDS})))`,
            ),
          )
          .returning();
        if (takenOver.length > 0) return { claimed: true };
        const [row] = await tx.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key)));
        return { claimed: false, row: row! };
      });

    // Pipelined: the stored response leaves with COMMIT (one write) and commits or rolls back with it.
    const store = async (uow: Pick<UnitOfWork, 'tx' | 'tenantId' | 'pipeline'>, key: string, status: number, body: string, type: string): Promise<void> => {
      uow.pipeline(
        uow.tx
          .update(idempotencyKeys)
          .set({ status: 'completed', responseStatus: status, responseBody: body, responseType: type })
          .where(and(eq(idempotencyKeys.tenantId, uow.tenantId), eq(idempotencyKeys.key, key)))
          .execute(),
      );
    };

    const release = (tenantId: string, key: string) =>
      app.runInTenant(tenantId, ({ tx }) =>
        tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, tenantId), eq(idempotencyKeys.key, key), eq(idempotencyKeys.status, 'in_progress'))),
      );

    app.decorate('idempotent', async function <T>(request: FastifyRequest, reply: FastifyReply, successStatus: number, run: (onCommit?: CommitHook) => Promise<T>) {
      const header = request.headers['idempotency-key'];
      if (header === undefined) return reply.code(successStatus).send(await run());
      const parsedKey = IdempotencyKeyHeader.safeParse(header);
      if (!parsedKey.success || parsedKey.data === undefined) {
        throw problems.badRequest('The Idempotency-Key header is invalid.', [{ path: 'headers.idempotency-key', message: 'must be 1 to 255 visible ASCII characters' }]);
      }
      const key = parsedKey.data;
      const tenantId = request.principal.tenantId;
      const hash = fingerprint(request);
      const outcome = await claim(tenantId, key, hash);
      if (!outcome.claimed) {
        const { row } = outcome;
        if (row.requestHash !== hash) {
          throw problems.unprocessable('idempotency-key-reused', 'Idempotency key reused', 'This Idempotency-Key was already used with a different request.');
        }
        if (row.status === 'in_progress') {
          throw problems.conflict('idempotency-key-in-use', 'Request in progress', 'A request with this Idempotency-Key is still being processed; retry later.');
        }
        return reply
          .code(row.responseStatus!)
          .header('idempotent-replayed', 'true')
          .type(row.responseType!)
          .serializer((payload: unknown) => payload as string)
          .send(row.responseBody!);
      }
      try {
        const result = await run((uow, value) => store(uow, key, successStatus, JSON.stringify(value), 'application/json; charset=utf-8'));
        return reply.code(successStatus).send(result);
      } catch (error) {
        if (error instanceof ProblemError && error.status < 500) {
          const problem = problemFor(error, request);
          await app.runInTenant(tenantId, (uow) => store(uow, key, problem.status, JSON.stringify(problem), PROBLEM_CONTENT_TYPE));
        } else {
          await release(tenantId, key).catch((e: unknown) => request.log.error({ err: e }, 'could not release idempotency key'));
        }
        throw error;
      }
    });

  },
  { name: 'idempotency', dependencies: ['database', 'auth-guard'] },
);
