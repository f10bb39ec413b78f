import { CommitOutcomeUnknown, type DatabaseHandle, type Transaction } from './database.ts';

type Hook = () => void | Promise<void>;

/** The database role tenant-scoped transactions run as; created by the migrations. */
export const TENANT_ROLE = 'pos_app';

/**
 * A unit of work (Fowler, PoEAA): one database transaction that knows its tenant. Gateways take
 * it as their first argument so that work spread over several modules commits or rolls back as
 * one, while each module still only touches its own tables.
 */
export interface UnitOfWork {
  /** The tenant every statement in this transaction acts for (also set as `app.tenant_id`). */
  readonly tenantId: string;
  /** The drizzle transaction. Only the module that owns a table may query it. */
  readonly tx: Transaction;
  /**
   * Runs `hook` inside the transaction once the work is done, just before COMMIT. Hooks run
   * concurrently, so their statements are pipelined (e.g. the outbox inserts of domain events).
   */
  beforeCommit(hook: Hook): void;
  /**
   * Sends a write whose answer the caller does not need, without waiting for it: it leaves in the
   * same network write as the statements queued after it (up to COMMIT), saving a round trip.
   * Its outcome is still checked: if it fails, the transaction is rolled back and its error is
   * what the unit of work throws. Pass the started query (e.g. `uow.pipeline(tx.insert(t).values(row).execute())`).
   */
  pipeline(statement: PromiseLike<unknown>): void;
  /** Runs `hook` after a successful commit (e.g. capture an authorised card payment). */
  afterCommit(hook: Hook): void;
  /** Runs `hook` after a rollback (e.g. void an authorised card payment). */
  onRollback(hook: Hook): void;
}

/** Runs `work` in a new tenant-scoped transaction; see {@link createUnitOfWorkRunner}. */
export type RunInTenant = <T>(tenantId: string, work: (uow: UnitOfWork) => Promise<T>) => Promise<T>;

/**
 * Makes the function that opens units of work on `db`.
 *
 * Each transaction first sets, transaction-locally, `app.tenant_id` (read by the row-level
 * security policies) and the role {@link TENANT_ROLE} (not a superuser, no BYPASSRLS), so that
 * PostgreSQL itself confines every statement to the tenant. Hooks registered with `afterCommit`/`onRollback` run in
 * order once the transaction has ended; a failing hook is passed to `onHookError` and does not
 * undo the commit or hide the original error.
 *
 * @throws whatever `work` throws, after the rollback hooks ran.
 */
export function createUnitOfWorkRunner(
  database: Pick<DatabaseHandle, 'transaction'>,
  onHookError: (error: unknown) => void = () => {},
): RunInTenant {
  const runHooks = async (hooks: Hook[]) => {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (error) {
        onHookError(error);
      }
    }
  };
  return async (tenantId, work) => {
    const committing: Hook[] = [];
    const committed: Hook[] = [];
    const rolledBack: Hook[] = [];
    const pipelined: Array<Promise<unknown>> = [];
    // The first pipelined statement that failed: it aborted the transaction, so it is the cause
    // of whatever failed after it ("current transaction is aborted", COMMIT answering ROLLBACK).
    let pipelineFailure: { error: unknown } | undefined;
    let result;
    try {
      result = await database.transaction({ 'app.tenant_id': tenantId, role: TENANT_ROLE }, async (tx) => {
        const value = await work({
          tenantId,
          tx,
          pipeline: (statement) => {
            const sent = Promise.resolve(statement);
            sent.catch((error: unknown) => void (pipelineFailure ??= { error }));
            pipelined.push(sent);
          },
          beforeCommit: (hook) => committing.push(hook),
          afterCommit: (hook) => committed.push(hook),
          onRollback: (hook) => rolledBack.push(hook),
        });
        // Hooks only queue their statements (pipelined), so COMMIT follows them in the same write.
        if (committing.length > 0) await Promise.all(committing.map(async (hook) => hook()));
        return value;
      });
      // In PostgreSQL any failed statement aborts the transaction, so COMMIT rolled back.
      await Promise.allSettled(pipelined);
      if (pipelineFailure) throw pipelineFailure.error;
    } catch (error) {
      await Promise.allSettled(pipelined);
      // Lost during COMMIT: it may have committed, so nothing is undone (no void of a card that
      // its committed capture job will take); an Idempotency-Key retry tells which it was.
      if (!(error instanceof CommitOutcomeUnknown)) await runHooks(rolledBack);
      throw pipelineFailure ? pipelineFailure.error : error;
    }
    await runHooks(committed);
    return result;
  };
}
