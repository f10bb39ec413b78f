import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlState } from '../shared/database.ts';
import { idempotencyKeys } from '../shared/idempotency.ts';
import { signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * The unit of work's pipelined statements (`uow.pipeline`) are sent without waiting for their
 * answer, yet must commit or roll back with everything else, and a failure must surface as
 * itself. Checked on the suite's database (the local PostgreSQL in CI, PGlite otherwise).
 */
let t: TestApp;
let owner: TenantFixture;

beforeAll(async () => {
  t = await startTestApp();
  owner = await signup(t.api);
});
afterAll(() => t?.close());

const keyRow = (key: string) => ({ tenantId: owner.tenant.id, key, requestHash: 'h', status: 'in_progress' as const });
const keysNamed = (...keys: string[]) =>
  t.app.runInTenant(owner.tenant.id, async ({ tx }) => {
    const rows = [];
    for (const key of keys) rows.push(...(await tx.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.tenantId, owner.tenant.id), eq(idempotencyKeys.key, key)))));
    return rows.map((r) => r.key).sort();
  });

describe('unit of work: pipelined statements', () => {
  it('commit together with the awaited ones, and only then run the after-commit hooks', async () => {
    const events: string[] = [];
    const value = await t.app.runInTenant(owner.tenant.id, async (uow) => {
      uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-ok-1')).execute());
      await uow.tx.insert(idempotencyKeys).values(keyRow('pipe-ok-2'));
      uow.beforeCommit(async () => uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-ok-3')).execute()));
      uow.afterCommit(() => void events.push('committed'));
      uow.onRollback(() => void events.push('rolled back'));
      return 42;
    });
    expect(value).toBe(42);
    expect(events).toEqual(['committed']);
    expect(await keysNamed('pipe-ok-1', 'pipe-ok-2', 'pipe-ok-3')).toEqual(['pipe-ok-1', 'pipe-ok-2', 'pipe-ok-3']);
  });

  it('a pipelined statement that fails rolls back everything and is the error thrown', async () => {
    await t.app.runInTenant(owner.tenant.id, ({ tx }) => tx.insert(idempotencyKeys).values(keyRow('pipe-taken')));
    const events: string[] = [];
    const outcome = await t.app
      .runInTenant(owner.tenant.id, async (uow) => {
        uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-lost-1')).execute());
        uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-taken')).execute()); // duplicate key
        uow.afterCommit(() => void events.push('committed'));
        uow.onRollback(() => void events.push('rolled back'));
        return 'done';
      })
      .then(
        () => 'resolved',
        (error: unknown) => sqlState(error),
      );
    expect(outcome).toBe('23505');
    expect(events).toEqual(['rolled back']);
    expect(await keysNamed('pipe-lost-1')).toEqual([]);
  });

  it('statements after a failed pipelined one fail too, but the first failure is reported', async () => {
    const outcome = await t.app
      .runInTenant(owner.tenant.id, async (uow) => {
        uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-taken')).execute()); // duplicate key
        await uow.tx.insert(idempotencyKeys).values(keyRow('pipe-lost-2')); // "current transaction is aborted"
        return 'done';
      })
      .then(
        () => 'resolved',
        (error: unknown) => sqlState(error),
      );
    expect(outcome).toBe('23505');
    expect(await keysNamed('pipe-lost-2')).toEqual([]);
  });

  it('a business error thrown by the work rolls back what was pipelined before it', async () => {
    const outcome = await t.app
      .runInTenant(owner.tenant.id, async (uow) => {
        uow.pipeline(uow.tx.insert(idempotencyKeys).values(keyRow('pipe-lost-3')).execute());
        throw new Error('insufficient stock');
      })
      .catch((error: Error) => error.message);
    expect(outcome).toBe('insufficient stock');
    expect(await keysNamed('pipe-lost-3')).toEqual([]);
  });
});
