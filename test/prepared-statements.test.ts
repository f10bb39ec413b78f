import { eq } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, sql, type DatabaseHandle, type Transaction } from '../shared/database.ts';
import { createTestDatabase, onRealPostgres, type TestDatabase } from './support/test-database.ts';

/**
 * Issue "performance", item 3: drizzle on postgres.js sends every statement unnamed unless the
 * query is given a name, so PostgreSQL parsed and planned each statement of each transaction again
 * (pg_stat_statements: plans = calls for every app statement; pgbench replaying the same SQL
 * prepared planned ~5 % as often). Statements in a unit of work are now named prepared
 * statements, parsed once per connection, and PostgreSQL settles on a generic plan.
 */
describe.skipIf(!onRealPostgres())('statements in a transaction', () => {
  let testDb: TestDatabase;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    if (testDb.config.kind !== 'postgres') throw new Error('needs PostgreSQL');
    const database = await openDatabase({ ...testDb.config, poolMax: 1 });
    await database.db.execute(sql`create table prepared_probe (id integer)`);
    await database.close();
  });
  afterAll(() => testDb?.drop());

  const probe = pgTable('prepared_probe', { id: integer('id') });
  const query = (tx: Transaction) => tx.select({ id: probe.id }).from(probe).where(eq(probe.id, 42));
  /** This connection's prepared statements that read the probe table, as PostgreSQL lists them. */
  const preparedHere = async (tx: Transaction) =>
    (await tx.execute(sql`select generic_plans::int as generic, custom_plans::int as custom from pg_prepared_statements where statement like '%from "prepared_probe"%'`)) as unknown as Array<{ generic: number; custom: number }>;

  const run = async (database: DatabaseHandle, times: number) => {
    let seen: Array<{ generic: number; custom: number }> = [];
    for (let i = 0; i < times; i++) {
      seen = await database.transaction({ 'app.test': 'x' }, async (tx) => {
        await query(tx);
        return preparedHere(tx);
      });
    }
    return seen;
  };

  it('are named prepared statements: parsed once per connection, then a generic plan is reused', async () => {
    if (testDb.config.kind !== 'postgres') throw new Error('needs PostgreSQL');
    const database = await openDatabase({ ...testDb.config, poolMax: 1 });
    try {
      const after = await run(database, 8);
      expect(after).toHaveLength(1); // one statement, prepared once for 8 transactions
      expect(after[0]!.generic + after[0]!.custom).toBe(8);
      expect(after[0]!.generic).toBeGreaterThan(0); // PostgreSQL stopped planning it per call
    } finally {
      await database.close();
    }
  });

  it('stay unnamed behind a transaction pooler (DATABASE_DIRECT_URL set), where prepared statements would be lost', async () => {
    if (testDb.config.kind !== 'postgres') throw new Error('needs PostgreSQL');
    const database = await openDatabase({ ...testDb.config, poolMax: 1, directUrl: testDb.config.url });
    try {
      expect(await run(database, 3)).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
