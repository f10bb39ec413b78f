import { asc, eq, sql } from 'drizzle-orm';
import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle, type Transaction } from '../shared/database.ts';
import { excluded, reusableInsert, reusableStatement } from '../shared/statements.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

/**
 * Issue "performance", item 3: drizzle built the SQL text of every statement on every run (about
 * a fifth of the app's CPU per order). Hot statements are built once and rebound to each unit of
 * work's session (shared/statements.ts); they must behave exactly like the builder, on the unit of
 * work that runs them (PostgreSQL and PGlite alike).
 */
describe('reusable statements', () => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  const probe = pgTable('statement_probe', { id: integer('id').primaryKey(), name: text('name').notNull(), at: timestamp('at', { withTimezone: true }), hits: integer('hits').notNull().default(0) });

  beforeAll(async () => {
    testDb = await createTestDatabase();
    database = await openDatabase(testDb.config.kind === 'postgres' ? { ...testDb.config, poolMax: 4 } : testDb.config);
    await database.db.execute(sql`create table statement_probe (id integer primary key, name text not null, at timestamptz, hits integer not null default 0)`);
  });
  afterAll(async () => {
    await database?.close();
    await testDb?.drop();
  });

  let builds = 0;
  const upsert = reusableStatement<{ id: number; name: string; at: Date | null }, Array<{ id: number; hits: number; at: Date | null }>>('probe_upsert', (tx) => {
    builds++;
    return tx
      .insert(probe)
      .values({ id: sql.placeholder('id'), name: sql.placeholder('name'), at: sql.placeholder('at') })
      .onConflictDoUpdate({ target: probe.id, set: { name: excluded(probe.name), at: excluded(probe.at), hits: sql`${probe.hits} + 1` } })
      .returning({ id: probe.id, hits: probe.hits, at: probe.at });
  });
  const insertRows = reusableInsert('probe_rows', probe, ['id', 'name', 'at'], (insert) => insert.onConflictDoNothing().returning({ id: probe.id }));
  const all = (tx: Transaction) => tx.select().from(probe).orderBy(asc(probe.id));

  it('returns what the builder returns (rows mapped by column, dates as Date, NULL kept), built once', async () => {
    const at = new Date('2026-12-06T10:00:00.000Z');
    const first = await database.transaction({}, (tx) => upsert(tx, { id: 1, name: 'one', at }));
    const second = await database.transaction({}, (tx) => upsert(tx, { id: 1, name: 'uno', at: null }));
    expect(first).toEqual([{ id: 1, hits: 0, at }]);
    expect(second).toEqual([{ id: 1, hits: 1, at: null }]);
    expect(builds).toBe(1);
    const [row] = await database.transaction({}, (tx) => tx.select().from(probe).where(eq(probe.id, 1)));
    expect(row).toEqual({ id: 1, name: 'uno', at: null, hits: 1 });
  });

  it('runs on the unit of work that calls it: concurrent units of work each see only their own rows, a rollback undoes its own', async () => {
    if (onRealPostgres()) {
      // Three units of work open at once (each waits until all three have written): each must
      // see its own uncommitted row only, i.e. every run went to its own connection.
      // (and none commits before all three have read).
      const barrier = () => {
        let count = 0;
        return async () => {
          count++;
          const deadline = Date.now() + 5000;
          while (count < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          return count;
        };
      };
      const [written, read] = [barrier(), barrier()];
      const seen = await Promise.all(
        [10, 20, 30].map((id) =>
          database.transaction({}, async (tx) => {
            await upsert(tx, { id, name: `n${id}`, at: null });
            expect(await written()).toBe(3);
            const ids = (await all(tx)).map((r) => r.id).filter((x) => x >= 10);
            expect(await read()).toBe(3);
            return ids;
          }),
        ),
      );
      expect(seen).toEqual([[10], [20], [30]]);
    } else {
      for (const id of [10, 20, 30]) await database.transaction({}, (tx) => upsert(tx, { id, name: `n${id}`, at: null }));
    }
    await expect(
      database.transaction({}, async (tx) => {
        await upsert(tx, { id: 40, name: 'gone', at: null });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const ids = (await database.transaction({}, all)).map((r) => r.id);
    expect(ids).toEqual([1, 10, 20, 30]);
  });

  it('multi-row inserts: one statement per row count, values in their rows, conflicts skipped as the builder would', async () => {
    const at = new Date('2026-01-01T00:00:00.000Z');
    const inserted = await database.transaction({}, (tx) => insertRows(tx, [{ id: 100, name: 'a', at }, { id: 101, name: 'b', at: null }, { id: 1, name: 'dup', at: null }]));
    expect(inserted.map((r) => r.id).sort()).toEqual([100, 101]);
    const one = await database.transaction({}, (tx) => insertRows(tx, [{ id: 102, name: 'c', at: null }]));
    expect(one).toEqual([{ id: 102 }]);
    const rows = await database.transaction({}, (tx) => tx.select().from(probe).where(sql`${probe.id} >= 100`).orderBy(asc(probe.id)));
    expect(rows).toEqual([
      { id: 100, name: 'a', at, hits: 0 },
      { id: 101, name: 'b', at: null, hits: 0 },
      { id: 102, name: 'c', at: null, hits: 0 },
    ]);
  });

  it('more row counts than it keeps statements for (32): the rest are built on each run, with the same results', async () => {
    const inserted = await database.transaction({}, async (tx) => {
      const ids: number[] = [];
      for (let n = 1; n <= 40; n++) {
        const rows = Array.from({ length: n }, (_, i) => ({ id: 1000 + n * 100 + i, name: `r${n}`, at: null }));
        ids.push(...(await insertRows(tx, rows)).map((r) => r.id));
      }
      return ids;
    });
    expect(inserted).toHaveLength((40 * 41) / 2);
    const [count] = await database.transaction({}, (tx) => tx.select({ n: sql<number>`count(*)::int` }).from(probe).where(sql`${probe.id} >= 1100`));
    expect(count).toEqual({ n: (40 * 41) / 2 });
  });

  it('a missing value is an error, not a NULL written silently', async () => {
    await expect(database.transaction({}, (tx) => upsert(tx, { id: 2, name: 'x' } as never))).rejects.toThrow(/No value for placeholder "at"/);
  });
});
