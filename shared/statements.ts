import { is, Param, Placeholder, sql, type SQL } from 'drizzle-orm';
import type { PgColumn, PgInsertBase, PgQueryResultHKT, PgTable } from 'drizzle-orm/pg-core';
import type { Transaction } from './database.ts';

/** What drizzle's query builders offer for prepared statements (`.prepare(name)`). */
interface Preparable<R> {
  prepare(name: string): { execute(values?: Record<string, unknown>): Promise<R> };
}

/** The parts of a drizzle prepared query (postgres.js and PGlite drivers, drizzle 0.45) rebound per run. */
interface DriverBound {
  client: unknown;
  logger: unknown;
}

/** `param` with a column encoder that passes NULL through, as drizzle does for bound values. */
function nullSafe(param: unknown): unknown {
  if (!is(param, Param) || !is(param.value, Placeholder)) return param;
  const { encoder } = param;
  return new Param(param.value, { mapToDriverValue: (value: unknown) => (value === null || value === undefined ? null : encoder.mapToDriverValue(value)) });
}

/** Statements (shapes) one {@link reusableStatement} keeps at most: the memory stays bounded. */
const MAX_SHAPES = 32;

/**
 * A hot statement built once and run in many units of work.
 *
 * drizzle turns a query builder into SQL text on every run (walking its chunks with `is()`
 * checks, mapping columns): in a CPU profile of the bench's orders about a fifth of the app's
 * CPU went to drizzle-orm, most of it rebuilding the same few statements. drizzle's own prepared
 * statements (`.prepare()`, values as `sql.placeholder(name)`) build the text once, but the
 * prepared object is bound to the session it was built on, and every unit of work has its own
 * session (its reserved connection). So this builds the statement once per shape with the first
 * unit of work that runs it and, on every run, binds a thin copy of it to the running unit of
 * work's session (its connection and logger) and executes it there: same SQL text, same values
 * encoded by their columns, same result (rows mapped like the builder's) as `build(tx)` itself.
 *
 * `build(tx, shape)` must not run anything: it only returns a builder whose variable parts are
 * placeholders. `shape` is the key of the SQL text when it depends on the values (e.g. the
 * number of rows of a multi-row insert); one statement is kept per shape, for the first
 * {@link MAX_SHAPES} shapes seen; a statement of any further shape is built on each run.
 * When a driver's prepared query does not have the expected fields (a future drizzle), every run
 * builds the statement again, as the builder would.
 *
 * @returns `run(tx, values, shape?)`: the statement's result; rejects as the builder's query
 *   would (e.g. a constraint violation), or with drizzle's "No value for placeholder" error when a
 *   value is missing.
 */
export function reusableStatement<V extends Record<string, unknown>, R>(name: string, build: (tx: Transaction, shape: string) => Preparable<R>) {
  type Prepared = DriverBound & { params?: unknown; prepare?: boolean; execute(values: V): Promise<R> };
  /** The statement of `shape` built on `tx`, as the builder's own run would prepare it. */
  const prepare = (tx: Transaction, shape: string): Prepared => {
    const prepared = build(tx, shape).prepare(`${name}${shape}`) as unknown as Prepared;
    // drizzle encodes a placeholder's value with its column even when it is null (a nullable
    // timestamp's encoder then throws); a bound value never reaches the encoder when null.
    if (Array.isArray(prepared.params)) prepared.params = prepared.params.map(nullSafe);
    // As the builder's own run (`execute()` prepares without a name): the unit of work's
    // connection decides whether statements are named (see shared/database.ts).
    prepared.prepare = false;
    return prepared;
  };
  const built = new Map<string, Prepared | null>();
  return (tx: Transaction, values: V, shape = ''): Promise<R> => {
    const session = (tx as unknown as { session?: Partial<DriverBound> }).session;
    let template = built.get(shape);
    if (template === undefined) {
      if (built.size >= MAX_SHAPES) return prepare(tx, shape).execute(values);
      const prepared = prepare(tx, shape);
      const rebindable = session !== undefined && 'client' in session && Object.hasOwn(prepared, 'client') && Object.hasOwn(prepared, 'logger') && Array.isArray(prepared.params);
      built.set(shape, rebindable ? prepared : null);
      if (!rebindable) return prepared.execute(values);
      // Every run binds its own connection: the template keeps none (nor this one alive).
      prepared.client = null;
      prepared.logger = null;
      template = prepared;
    }
    if (template === null) return prepare(tx, shape).execute(values);
    const bound = Object.create(template) as Prepared;
    bound.client = session!.client;
    bound.logger = session!.logger;
    return bound.execute(values);
  };
}

/**
 * `n` rows of placeholders for a multi-row insert: row `i`'s column `c` is `sql.placeholder('c_i')`
 * (see {@link rowValues} for the matching values).
 */
export function placeholderRows<K extends string>(columns: readonly K[], n: number): Array<Record<K, Placeholder>> {
  return Array.from({ length: n }, (_, i) => Object.fromEntries(columns.map((column) => [column, sql.placeholder(`${column}_${i}`)])) as Record<K, Placeholder>);
}

/**
 * The values of {@link placeholderRows} for `rows` (an absent value is sent as NULL, as the
 * builder would for a column given `null`).
 */
export function rowValues<K extends string>(columns: readonly K[], rows: ReadonlyArray<Partial<Record<K, unknown>>>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  rows.forEach((row, i) => {
    for (const column of columns) values[`${column}_${i}`] = row[column] ?? null;
  });
  return values;
}

/**
 * A reusable multi-row insert of `columns` into `table` (one statement per row count),
 * optionally finished by `finish` (e.g. `onConflictDoNothing()`, `returning()`).
 *
 * @returns `run(tx, rows)`: what the finished builder returns (rows when it has `returning`).
 */
export function reusableInsert<T extends PgTable, K extends keyof T['$inferInsert'] & string, R = unknown>(
  name: string,
  table: T,
  columns: readonly K[],
  finish: (insert: PgInsertBase<T, PgQueryResultHKT>) => Preparable<R> = (insert) => insert as unknown as Preparable<R>,
) {
  const statement = reusableStatement<Record<string, unknown>, R>(name, (tx, shape) => finish(tx.insert(table).values(placeholderRows(columns, Number(shape)) as never) as never));
  return (tx: Transaction, rows: ReadonlyArray<Pick<T['$inferInsert'], K>>): Promise<R> => statement(tx, rowValues(columns, rows as ReadonlyArray<Partial<Record<K, unknown>>>), String(rows.length));
}

/** `excluded.<column>` of an upsert's `set`: the value the conflicting insert proposed for `column`. */
export function excluded(column: PgColumn): SQL {
  return sql`excluded.${sql.identifier(column.name)}`;
}
