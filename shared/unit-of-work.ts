import { sql } from 'drizzle-orm';
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
  const run = transactionRunner(database, onHookError);
  return (tenantId, work) => run(tenantId, (enter) => work(enter(tenantId)));
}

/**
 * Runs `work` for several tenants in ONE transaction: `enter(tenantId)` makes `tenantId` the
 * tenant of the statements sent from then on (a transaction-local `set_config('app.tenant_id')`,
 * pipelined: no round trip) and returns that tenant's unit of work. Row-level security applies
 * to each statement with the tenant current when it runs, so the work must finish one tenant's
 * statements before it enters the next (await each tenant's work): a unit of work used after
 * another tenant was entered throws {@link TenantSwitched} instead of acting for that tenant.
 * `beforeCommit` hooks run per tenant, each after entering its tenant again.
 *
 * @throws whatever `work` throws (e.g. TenantSwitched), after the rollback hooks ran; the whole
 *   transaction, every tenant's writes, is rolled back.
 *
 * Kernel-internal (the event bus, which handles a batch of several restaurants' events in one
 * transaction: one BEGIN/COMMIT and two round trips instead of that per restaurant); modules get
 * only `runInTenant`.
 */
export type RunAcrossTenants = <T>(firstTenantId: string, work: (enter: (tenantId: string) => UnitOfWork) => Promise<T>) => Promise<T>;

/**
 * Makes a {@link RunAcrossTenants} on `database`; hooks as in {@link createUnitOfWorkRunner}.
 * A unit of work used while another tenant is current (its `tx` touched: a query built or a
 * prepared statement run) throws {@link TenantSwitched}, which rolls the transaction back unless
 * caught.
 */
export function createMultiTenantRunner(database: Pick<DatabaseHandle, 'transaction'>, onHookError: (error: unknown) => void = () => {}): RunAcrossTenants {
  return transactionRunner(database, onHookError, true);
}

/** Thrown by a unit of work of {@link RunAcrossTenants} used after the transaction moved on to another tenant. */
export class TenantSwitched extends Error {
  constructor(tenantId: string, current: string) {
    super(`unit of work of tenant ${tenantId} used after the transaction moved on to tenant ${current}`);
    this.name = 'TenantSwitched';
  }
}

/** Switches the tenant of the statements that follow, inside the transaction. */
const switchTenant = (tx: Transaction, tenantId: string) => tx.execute(sql`select set_config('app.tenant_id', ${tenantId}, true)`).execute();

/** The transaction behind both runners: one transaction, units of work per tenant entered. */
function transactionRunner(database: Pick<DatabaseHandle, 'transaction'>, onHookError: (error: unknown) => void, guardTenants = false): RunAcrossTenants {
  const runHooks = async (hooks: Hook[]) => {
    for (const hook of hooks) {
      try {
        await hook();
      } catch (error) {
        onHookError(error);
      }
    }
  };
  return async (firstTenantId, work) => {
    const committing = new Map<string, Hook[]>();
    const committed: Hook[] = [];
    const rolledBack: Hook[] = [];
    const pipelined: Array<Promise<unknown>> = [];
    // The first pipelined statement that failed: it aborted the transaction, so it is the cause
    // of whatever failed after it ("current transaction is aborted", COMMIT answering ROLLBACK).
    let pipelineFailure: { error: unknown } | undefined;
    const pipeline = (statement: PromiseLike<unknown>) => {
      const sent = Promise.resolve(statement);
      sent.catch((error: unknown) => void (pipelineFailure ??= { error }));
      pipelined.push(sent);
    };
    let result;
    try {
      result = await database.transaction({ 'app.tenant_id': firstTenantId, role: TENANT_ROLE }, async (tx) => {
        let current = firstTenantId;
        const units = new Map<string, UnitOfWork>();
        const enter = (tenantId: string): UnitOfWork => {
          if (tenantId !== current) {
            pipeline(switchTenant(tx, tenantId));
            current = tenantId;
          }
          let uow = units.get(tenantId);
          if (!uow) {
            const hooks: Hook[] = [];
            committing.set(tenantId, hooks);
            // Across tenants, each unit of work's handle checks on every use that its tenant is the
            // current one (a statement sent now would run as the current tenant's).
            const own = guardTenants
              ? new Proxy(tx, {
                  get(target, property, receiver) {
                    if (current !== tenantId) throw new TenantSwitched(tenantId, current);
                    return Reflect.get(target, property, receiver) as unknown;
                  },
                })
              : tx;
            uow = {
              tenantId,
              tx: own,
              pipeline,
              beforeCommit: (hook) => hooks.push(hook),
              afterCommit: (hook) => committed.push(hook),
              onRollback: (hook) => rolledBack.push(hook),
            };
            units.set(tenantId, uow);
          }
          return uow;
        };
        const value = await work(enter);
        // Hooks only queue their statements (pipelined), so COMMIT follows them in the same write.
        for (const [tenantId, hooks] of committing) {
          if (hooks.length === 0) continue;
          enter(tenantId);
          await Promise.all(hooks.map(async (hook) => hook()));
        }
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
