import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../shared/database.ts';
import { createMultiTenantRunner, TenantSwitched, type RunAcrossTenants, type UnitOfWork } from '../shared/unit-of-work.ts';
import { signup, type TenantFixture } from './support/fixtures.ts';
import { startTestApp, type TestApp } from './support/test-app.ts';

/**
 * The kernel's transaction across tenants (the event bus handles a batch of several restaurants'
 * events in one): row-level security holds for each tenant entered, and a tenant's unit of work
 * cannot be used once the transaction moved on to another tenant.
 */
describe('one transaction across tenants (createMultiTenantRunner)', () => {
  let t: TestApp;
  let a: TenantFixture;
  let b: TenantFixture;
  let across: RunAcrossTenants;
  let subscriber = '';
  beforeAll(async () => {
    t = await startTestApp();
    [a, b] = [await signup(t.api), await signup(t.api)];
    across = createMultiTenantRunner(t.app.database);
  });
  afterAll(() => t?.close());

  const insertRow = (tenantId: string) =>
    sql`insert into kernel.inbox (tenant_id, subscriber, event_id, event_type, occurred_at) values (${tenantId}, ${subscriber}, gen_random_uuid(), 'Probe', now())`;
  /** Rows of the probe subscriber per tenant, read past row-level security (the event bus's own connection). */
  const committed = async () => {
    const { rows } = await t.app.events.boss.getDb().executeSql(`select tenant_id::text as tenant, count(*)::int as n from kernel.inbox where subscriber = $1 group by tenant_id`, [subscriber]);
    return Object.fromEntries((rows as Array<{ tenant: string; n: number }>).map((r) => [r.tenant, r.n]));
  };
  /** The tenants of the probe rows `uow` can see (row-level security applies). */
  const tenantsSeen = async (uow: UnitOfWork) => (await queryRows<{ tenant: string }>(uow.tx, sql`select tenant_id::text as tenant from kernel.inbox where subscriber = ${subscriber}`)).map((r) => r.tenant);

  it("each tenant entered writes and sees only its own rows, and the tenants' writes commit together", async () => {
    subscriber = `uow-probe-${Date.now()}`;
    await across(a.tenant.id, async (enter) => {
      const ua = enter(a.tenant.id);
      ua.pipeline(ua.tx.execute(insertRow(a.tenant.id)).execute());
      const ub = enter(b.tenant.id);
      ub.pipeline(ub.tx.execute(insertRow(b.tenant.id)).execute());
      ub.pipeline(ub.tx.execute(insertRow(b.tenant.id)).execute());
      expect(await tenantsSeen(ub)).toEqual([b.tenant.id, b.tenant.id]);
      expect(await tenantsSeen(enter(a.tenant.id))).toEqual([a.tenant.id]);
    });
    expect(await committed()).toEqual({ [a.tenant.id]: 1, [b.tenant.id]: 2 });
  });

  it("a row of another tenant is refused by row-level security inside the shared transaction, and nothing commits", async () => {
    subscriber = `uow-probe-${Date.now()}`;
    const run = across(a.tenant.id, async (enter) => {
      const ua = enter(a.tenant.id);
      await ua.tx.execute(insertRow(a.tenant.id));
      const ub = enter(b.tenant.id);
      await ub.tx.execute(insertRow(a.tenant.id)); // b is current: a's row is not b's to write
    });
    // drizzle wraps PostgreSQL's error: 42501 "new row violates row-level security policy".
    const error = (await run.catch((e: unknown) => e)) as { cause?: { code?: string; message?: string } };
    expect(error.cause).toMatchObject({ code: '42501', message: expect.stringMatching(/row-level security/) });
    expect(await committed()).toEqual({});
  });

  it("a tenant's unit of work used after another tenant was entered throws TenantSwitched, and nothing commits", async () => {
    subscriber = `uow-probe-${Date.now()}`;
    const run = across(a.tenant.id, async (enter) => {
      const ua = enter(a.tenant.id);
      await ua.tx.execute(insertRow(a.tenant.id));
      enter(b.tenant.id);
      await ua.tx.execute(insertRow(a.tenant.id)); // would run as b's
    });
    await expect(run).rejects.toThrow(TenantSwitched);
    await expect(run).rejects.toThrow(`unit of work of tenant ${a.tenant.id} used after the transaction moved on to tenant ${b.tenant.id}`);
    expect(await committed()).toEqual({});
  });
});
