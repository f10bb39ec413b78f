import { existsSync, readFileSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';
import { sql, type SQL } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { DatabaseConfig, PoolLimits } from './config.ts';

/** The drizzle database, the same type on postgres.js and on PGlite. */
export type Database = PgDatabase<PgQueryResultHKT>;
/**
 * The query handle of an open transaction: a drizzle database bound to the transaction's
 * connection (select, insert, update, delete, execute). Never call `transaction()` on it.
 */
export type Transaction = Database;

/** Callbacks of {@link DatabaseHandle.listen}. */
export interface ListenHandlers {
  onNotify(payload: string): void;
  onListen(): void;
  onLost(): void;
  /** Runs once, when a probe NOTIFY proved that notifications arrive (see `listen`). */
  onVerified(): void;
}

/**
 * Thrown by {@link DatabaseHandle.listen} when a LISTEN is accepted but its notifications never
 * arrive (typically `DATABASE_URL` goes through PgBouncer in transaction mode and
 * `DATABASE_DIRECT_URL` is not set).
 */
export class ListenUnavailable extends Error {
  constructor(channel: string) {
    super(`LISTEN ${channel} receives no notifications (a transaction pooler such as PgBouncer in transaction mode? set DATABASE_DIRECT_URL to a direct connection)`);
    this.name = 'ListenUnavailable';
  }
}

/** An open database: the drizzle handle plus its lifecycle. */
export interface DatabaseHandle {
  readonly kind: DatabaseConfig['kind'];
  readonly db: Database;
  /** The driver underneath, for infrastructure that needs its own access (the job queue). */
  readonly driver: { kind: 'postgres'; url: string } | { kind: 'pglite'; client: PGlite };
  /**
   * Runs `work` in a transaction that first sets `settings` as transaction-local configuration
   * (`set_config(name, value, true)`, e.g. `app.tenant_id` and `role`), commits when `work`
   * resolves and rolls back when it throws. On PostgreSQL, BEGIN and the settings go out in one
   * write (pipelined), saving a round trip on every request.
   */
  transaction<T>(settings: Record<string, string>, work: (tx: Transaction) => Promise<T>): Promise<T>;
  /**
   * LISTENs on `channel` on a dedicated connection (to `DATABASE_DIRECT_URL` when set: LISTEN
   * does not work through a transaction pooler) and keeps listening until `close()`:
   * - `onNotify` gets each NOTIFY payload;
   * - `onLost` runs the moment the listening connection is lost (notifications from then on are
   *   missed until `onListen`);
   * - `onListen` runs each time listening (re)starts, after a lost connection was restored
   *   (retried every 0.1 s, doubling to 2 s). Notifications sent in between are lost, so a
   *   listener should assume anything changed.
   * - `onVerified` runs once a probe NOTIFY sent through the main pool came back (through
   *   PgBouncer in transaction mode LISTEN "succeeds" but nothing ever arrives).
   * Resolves after `onVerified`.
   * @throws ListenUnavailable when no probe came back within 5 s; probing goes on every 10 s
   *   in the background (a slow start is not a broken setup), calling `onVerified` if one does.
   */
  listen(channel: string, handlers: ListenHandlers): Promise<void>;
  /**
   * Resolves true when the database answers a trivial query within `timeoutMs`. On PostgreSQL it
   * uses its own connection, not the request pool, so a busy pool does not fail it.
   */
  ping(timeoutMs?: number): Promise<boolean>;
  /**
   * Resolves true when every migration in `drizzle/` is recorded as applied, false when some are
   * missing or the database does not answer within `timeoutMs`.
   */
  migrationsApplied(timeoutMs?: number): Promise<boolean>;
  /**
   * Applies the SQL migrations in `drizzle/`, then row-level security to every tenant table;
   * safe when several instances start at once.
   */
  migrate(): Promise<void>;
  /**
   * How the request pool is used now, as this process sees it (postgres.js has no pool
   * statistics of its own): `max` connections it may open, `inUse` held by transactions
   * (`transaction()`: each unit of work holds one from BEGIN to COMMIT), `waiting` transactions
   * queued for a free connection. Statements sent on `db` outside a transaction (rare: start-up,
   * grants) are not counted. On PGlite: `max` 1, `inUse` 0 or 1, `waiting` the transactions
   * queued behind the running one.
   */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

/** See {@link DatabaseHandle.poolStats}. */
export interface PoolStats {
  max: number;
  inUse: number;
  waiting: number;
}

/**
 * Folder of the drizzle-kit generated SQL migrations (`drizzle/` at the repository root), found
 * from the sources (`shared/`) and from the compiled build (`dist/shared/`) alike.
 */
const MIGRATIONS_FOLDER = [new URL('../drizzle', import.meta.url), new URL('../../drizzle', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((path) => existsSync(path)) ?? fileURLToPath(new URL('../drizzle', import.meta.url));

// Covers tables that a migration forgot to (see drizzle/0001_row_level_security.sql).
const APPLY_TENANT_ISOLATION = 'select kernel.apply_tenant_isolation()';

// drizzle's migrator records each applied migration here.
const APPLIED_MIGRATIONS = 'select count(*)::int as n from drizzle.__drizzle_migrations';
const GRANT_MIGRATIONS_READ = 'grant usage on schema drizzle to pos_app; grant select on drizzle.__drizzle_migrations to pos_app';
let journalEntries: number | undefined;
/** Number of migrations in drizzle/meta/_journal.json (read once). */
function expectedMigrations(): number {
  journalEntries ??= (JSON.parse(readFileSync(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
  return journalEntries;
}

// Any constant works; it only has to be the same for every instance of this application.
const MIGRATION_LOCK_KEY = 7_300_001;

/**
 * Opens the database described by `config`: postgres.js for `kind: 'postgres'`, or the embedded
 * PGlite (PostgreSQL compiled to WASM) for `kind: 'pglite'` with its files in `dataDir`
 * (`memory://` for an in-memory database). `onQuery` sees every statement drizzle sends (for
 * benchmarks and debugging).
 */
export async function openDatabase(config: DatabaseConfig, options: { onQuery?: (query: string, params: unknown[]) => void } = {}): Promise<DatabaseHandle> {
  const logger = options.onQuery ? { logQuery: options.onQuery } : undefined;
  if (config.kind === 'postgres') {
    const limits = { ...DEFAULT_POOL_LIMITS, ...config.limits };
    const client = postgres(config.url, {
      max: config.poolMax,
      // A transaction pooler (PgBouncer < 1.21 in transaction mode) hands each transaction any
      // server connection, where this connection's named prepared statements do not exist.
      prepare: !config.directUrl,
      onnotice: () => {},
      // Bounded waits (issue "database faults"): a connect attempt gives up after
      // connect_timeout; idle connections are closed after idle_timeout and every connection
      // after max_lifetime, so a pool that grew under load gives connections back to the server.
      connect_timeout: limits.connectTimeoutSeconds,
      idle_timeout: limits.idleTimeoutSeconds,
      max_lifetime: limits.maxLifetimeSeconds,
      // postgres.js's default backoff grows with every failed connection of the pool (3^n/100 s,
      // up to 20 s): after a restart killed 10 connections, the pool waited ~20 s to reconnect.
      backoff: reconnectDelaySeconds,
      connection: { application_name: 'pos-api' },
    });
    // Server-side bounds, set per transaction with the other settings (same write, no extra round
    // trip; transaction-local, so they also work through PgBouncer in transaction mode, which
    // rejects them as startup parameters): no statement runs, and no transaction sits idle, forever.
    const timeouts: Record<string, string> = {
      ...(limits.statementTimeoutMs > 0 ? { statement_timeout: String(limits.statementTimeoutMs) } : {}),
      ...(limits.idleInTransactionTimeoutMs > 0 ? { idle_in_transaction_session_timeout: String(limits.idleInTransactionTimeoutMs) } : {}),
    };
    const db = drizzlePostgres({ client, ...(logger ? { logger } : {}) }) as unknown as Database;
    const listeners: Listener[] = [];
    // Readiness gets its own single connection, so a busy request pool never makes a healthy
    // instance look unready (and a dead server is still noticed).
    // Directly to the server when a pooler is in front: a probe queued behind a saturated
    // PgBouncer pool would report a healthy database as down.
    const probe = postgres(config.directUrl ?? config.url, {
      max: 1,
      onnotice: () => {},
      connect_timeout: Math.min(limits.connectTimeoutSeconds, 5),
      idle_timeout: 60,
      connection: { application_name: 'pos-api-probe' },
    });
    const pool = { inUse: 0, waiting: 0 };
    return {
      kind: 'postgres',
      db,
      driver: { kind: 'postgres', url: config.url },
      transaction: (settings, work) => reservedTransaction(client, limits.acquireTimeoutMs, { ...timeouts, ...settings }, work, logger, pool),
      poolStats: () => ({ max: config.poolMax, inUse: pool.inUse, waiting: pool.waiting }),
      ping: (timeoutMs = 2000) => withTimeout(probe`select 1`.then(() => true), timeoutMs),
      migrationsApplied: (timeoutMs = 2000) =>
        withTimeout(
          probe.unsafe(APPLIED_MIGRATIONS).then((rows) => Number(rows[0]?.n) >= expectedMigrations()),
          timeoutMs,
        ),
      async listen(channel, handlers) {
        const listener = keepListening(config.directUrl ?? config.url, channel, handlers);
        listeners.push(listener);
        await listener.verify(client);
      },
      async migrate() {
        // One dedicated connection so the session-level advisory lock covers the whole run:
        // instances started together wait for each other instead of racing on DDL. A session lock
        // needs a session: through a transaction pooler it would stay on a pooled server
        // connection after a crash and block every later start, so this uses a direct URL. The
        // migrations create roles and policies: they may need a more privileged login
        // (DATABASE_ADMIN_URL, which must then be direct too) than the app's own.
        const lockClient = postgres(config.adminUrl ?? config.directUrl ?? config.url, { max: 1, onnotice: () => {}, connect_timeout: limits.connectTimeoutSeconds });
        try {
          await lockClient`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
          await migratePostgres(drizzlePostgres({ client: lockClient }), { migrationsFolder: MIGRATIONS_FOLDER });
          await lockClient.unsafe(APPLY_TENANT_ISOLATION);
          // Readiness (run as the app's login, a member of pos_app) checks the migrations table.
          await lockClient.unsafe(GRANT_MIGRATIONS_READ);
          await lockClient`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
        } finally {
          await lockClient.end({ timeout: 5 });
        }
      },
      async close() {
        await Promise.all(listeners.map((l) => l.close()));
        await Promise.all([client.end({ timeout: 5 }), probe.end({ timeout: 1 })]);
      },
    };
  }

  let client: PGlite;
  if (config.dataDir.startsWith('memory://')) client = await PGlite.create(config.dataDir);
  else {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    await restrictToOwner(config.dataDir);
    client = await PGlite.create({ fs: new OwnerOnlyNodeFS(config.dataDir) });
  }
  const db = drizzlePglite({ client, ...(logger ? { logger } : {}) }) as unknown as Database;
  // PGlite runs one transaction at a time; the others wait for it.
  let transactions = 0;
  return {
    kind: 'pglite',
    db,
    driver: { kind: 'pglite', client },
    async transaction(settings, work) {
      transactions++;
      try {
        return await db.transaction(async (tx) => {
          for (const [name, value] of Object.entries(settings)) await tx.execute(sql`select set_config(${name}, ${value}, true)`);
          return work(tx as unknown as Transaction);
        });
      } finally {
        transactions--;
      }
    },
    poolStats: () => ({ max: 1, inUse: Math.min(transactions, 1), waiting: Math.max(0, transactions - 1) }),
    ping: (timeoutMs = 2000) => withTimeout(client.query('select 1').then(() => true), timeoutMs),
    migrationsApplied: (timeoutMs = 2000) =>
      withTimeout(
        client.query<{ n: number }>(APPLIED_MIGRATIONS).then((result) => Number(result.rows[0]?.n) >= expectedMigrations()),
        timeoutMs,
      ),
    async listen(channel, handlers) {
      // In-process: the connection cannot be lost.
      await client.listen(channel, handlers.onNotify);
      handlers.onListen();
      handlers.onVerified();
    },
    async migrate() {
      await migratePglite(drizzlePglite({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
      await client.query(APPLY_TENANT_ISOLATION);
    },
    close: () => client.close(),
  };
}

interface Listener {
  /**
   * Resolves when a NOTIFY sent through `pool` reached this listener (then calls `onVerified`);
   * rejects with ListenUnavailable after 5 s and keeps trying in the background.
   */
  verify(pool: postgres.Sql): Promise<void>;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 5000;
const PROBE_RETRY_MS = 10_000;
const RELISTEN_FIRST_DELAY_MS = 100;
const RELISTEN_MAX_DELAY_MS = 2000;

/**
 * LISTEN on a connection of its own that reports its loss at once (postgres.js's `onclose`) and
 * re-listens with a short backoff. postgres.js's own `sql.listen` re-listens silently, after its
 * reconnect backoff (up to 20 s), and gives up if that one attempt fails; a cache cannot know it
 * is missing notifications in between.
 */
function keepListening(url: string, channel: string, handlers: ListenHandlers): Listener {
  const probes = new Map<string, () => void>();
  let closed = false;
  let listening = false;
  let retry: NodeJS.Timeout | undefined;
  let probeRetry: NodeJS.Timeout | undefined;
  // `onnotify` (every notification of this connection) is a postgres.js 3.x option its types omit.
  const options = {
    max: 1,
    idle_timeout: 0,
    max_lifetime: null,
    fetch_types: false,
    onnotice: () => {},
    connection: { application_name: 'pos-api-listen' },
    onnotify: (name: string, payload: string) => {
      if (name !== channel) return;
      const probe = probes.get(payload);
      if (probe) probe();
      else handlers.onNotify(payload);
    },
    // Also called for connections that never got to listen: `start` retries those itself.
    onclose: () => {
      if (closed || !listening) return;
      listening = false;
      handlers.onLost();
      schedule(RELISTEN_FIRST_DELAY_MS);
    },
  };
  const sql = postgres(url, options as postgres.Options<Record<string, never>>);
  const quoted = `"${channel.replace(/"/g, '""')}"`;
  const start = async (delayMs: number) => {
    if (closed || listening) return;
    try {
      await sql.unsafe(`listen ${quoted}`);
      if (closed) return;
      listening = true;
      handlers.onListen();
    } catch {
      schedule(Math.min(RELISTEN_MAX_DELAY_MS, delayMs * 2));
    }
  };
  const schedule = (delayMs: number) => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      void start(delayMs);
    }, delayMs);
    retry.unref();
  };
  const first = start(RELISTEN_FIRST_DELAY_MS);
  return {
    async verify(pool) {
      await first;
      const probe = async () => {
        const payload = `probe:${crypto.randomUUID()}`;
        let timer: NodeJS.Timeout | undefined;
        try {
          await new Promise<void>((resolve, reject) => {
            probes.set(payload, resolve);
            timer = setTimeout(() => reject(new ListenUnavailable(channel)), PROBE_TIMEOUT_MS);
            pool`select pg_notify(${channel}, ${payload})`.catch(reject);
          });
        } finally {
          clearTimeout(timer);
          probes.delete(payload);
        }
      };
      try {
        await probe();
        handlers.onVerified();
      } catch (error) {
        const again = () => {
          if (closed) return;
          probeRetry = setTimeout(() => probe().then(handlers.onVerified, again), PROBE_RETRY_MS);
          probeRetry.unref();
        };
        again();
        throw error;
      }
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      clearTimeout(probeRetry);
      await sql.end({ timeout: 1 });
    },
  };
}

/**
 * Takes group and other permissions off `path` and, for a directory, everything under it
 * (directories end up at most 0700, files 0600): a PGlite data directory written by an older
 * version of the app, or copied with lax permissions, is closed at start. Symbolic links are
 * left alone.
 */
async function restrictToOwner(path: string): Promise<void> {
  const stat = await lstat(path);
  if (stat.isSymbolicLink()) return;
  if ((stat.mode & 0o077) !== 0) await chmod(path, stat.mode & 0o700);
  if (stat.isDirectory()) for (const name of await readdir(path)) await restrictToOwner(join(path, name));
}

/** The part of Emscripten's NODEFS that {@link OwnerOnlyNodeFS} wraps. */
interface EmscriptenNodeFs {
  node_ops?: { mknod?: (parent: unknown, name: string, mode: number, dev: unknown) => unknown };
  doSetAttr?: (arg: unknown, node: unknown, attr: { mode?: number }, ...rest: unknown[]) => unknown;
}

/**
 * PGlite's Node.js filesystem (its data directory on disk), except that every file and directory
 * PostgreSQL creates or chmods there is owner-only: PGlite (0.5.16) creates its files 0666 with
 * an explicit chmod, which the process umask does not restrict. The modes are masked inside this
 * instance's Emscripten NODEFS (creation and chmod), so nothing else in the process is touched.
 * Should a PGlite upgrade rename these internals, the data directory itself stays 0700, which
 * already keeps other users out (test/pglite-files.test.ts checks the files too).
 */
class OwnerOnlyNodeFS extends NodeFS {
  override async init(...args: Parameters<NodeFS['init']>): ReturnType<NodeFS['init']> {
    const result = await super.init(...args);
    const ownerOnly = (mod: { NODEFS: unknown }) => {
      const nodefs = mod.NODEFS as EmscriptenNodeFs;
      const mask = (mode: number) => mode & ~0o077;
      const mknod = nodefs.node_ops?.mknod;
      if (mknod && nodefs.node_ops) nodefs.node_ops.mknod = (parent, name, mode, dev) => mknod(parent, name, mask(mode), dev);
      const doSetAttr = nodefs.doSetAttr?.bind(nodefs);
      if (doSetAttr) nodefs.doSetAttr = (arg, node, attr, ...rest) => doSetAttr(arg, node, attr.mode === undefined ? attr : { ...attr, mode: mask(attr.mode) }, ...rest);
    };
    // Before the data directory is mounted (NodeFS's own preRun).
    result.emscriptenOpts.preRun = [ownerOnly, ...(result.emscriptenOpts.preRun ?? [])];
    return result;
  }
}

/** Defaults of the pool and server-side limits; see `PoolLimits` in shared/config.ts. */
const DEFAULT_POOL_LIMITS: Required<PoolLimits> = {
  connectTimeoutSeconds: 5,
  idleTimeoutSeconds: 30,
  maxLifetimeSeconds: 60,
  acquireTimeoutMs: 30_000,
  statementTimeoutMs: 15_000,
  idleInTransactionTimeoutMs: 30_000,
};

/**
 * Seconds before a pooled connection retries after a failure: 0.1 s doubling per failure, capped
 * at 2 s, with jitter (50–100 %). `failures` is postgres.js's shared retry count (reset on success).
 */
function reconnectDelaySeconds(failures: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.1 * 2 ** failures, 2);
}

type PostgresClient = postgres.Sql;
/** The parts of a postgres.js connection object (internal, 3.4.x) the transaction watches. */
interface DriverConnection {
  id: number;
  reserved: unknown;
  onclose?: ((error: unknown) => void) | null;
}
type PendingQuery = PromiseLike<unknown> & { reject?: (error: unknown) => void };

/**
 * One transaction on a connection reserved from the pool, with BEGIN, the settings and the first
 * statements of `work` pipelined (see `DatabaseHandle.transaction`).
 *
 * Why it watches the connection: postgres.js 3.4.9 (the newest release) crashes the process with
 * `TypeError: Cannot read properties of null (reading 'write')` from a `setImmediate` when a
 * statement is written to a reserved connection whose socket has closed (porsager/postgres#1208,
 * #1154; upstream fixes #1168/#1209 are unreleased), e.g. the `rollback` after a failed statement,
 * or any statement after `release()` of a closed connection. Worse, the pool may already have
 * reconnected that connection object for another caller, so a stale `commit` could land in
 * someone else's transaction. So once the driver reports the connection closed (its per-connection
 * `onclose`, learnt through BEGIN's `onexecute`), this transaction writes nothing more to it:
 * statements still waiting are rejected, later ones throw {@link DatabaseUnavailable}, no
 * `rollback` is sent (the server rolled back when the session died) and the connection is not
 * released (the pool took it back when it closed).
 *
 * @throws DatabaseUnavailable when no connection could be had within `acquireTimeoutMs`, or the
 *   connection was lost; whatever `work` throws otherwise; {@link TransactionRolledBack}.
 */
async function reservedTransaction<T>(
  client: PostgresClient,
  acquireTimeoutMs: number,
  settings: Record<string, string>,
  work: (tx: Transaction) => Promise<T>,
  logger: { logQuery: (query: string, params: unknown[]) => void } | undefined,
  pool: { inUse: number; waiting: number },
): Promise<T> {
  let connection: postgres.ReservedSql;
  pool.waiting++;
  try {
    connection = await reserveWithin(client, acquireTimeoutMs);
  } finally {
    pool.waiting--;
  }
  pool.inUse++;
  try {
    return await inReservedTransaction(client, connection, settings, work, logger);
  } finally {
    pool.inUse--;
  }
}

/** The body of {@link reservedTransaction} once `connection` is reserved. */
async function inReservedTransaction<T>(
  client: PostgresClient,
  connection: postgres.ReservedSql,
  settings: Record<string, string>,
  work: (tx: Transaction) => Promise<T>,
  logger: { logQuery: (query: string, params: unknown[]) => void } | undefined,
): Promise<T> {
  let driverConnection: DriverConnection | undefined;
  let reservation: unknown;
  let lost: DatabaseUnavailable | undefined;
  const pending = new Set<PendingQuery>();
  const isLost = () => lost !== undefined || (driverConnection !== undefined && driverConnection.reserved !== reservation);
  const markLost = (cause?: unknown) => {
    lost ??= new DatabaseUnavailable('the database connection was lost during the transaction', cause);
    for (const query of pending) query.reject?.(lost);
    pending.clear();
  };
  const track = <Q extends PendingQuery>(query: Q): Q => {
    pending.add(query);
    query.then(
      () => pending.delete(query),
      () => pending.delete(query),
    );
    return query;
  };
  // drizzle only calls `unsafe` (and reads `options`, whose type parsers a reserved connection
  // shares with its pool but does not expose).
  const guarded = new Proxy(connection, {
    get(target, property, receiver) {
      if (property === 'options') return client.options;
      if (property === 'unsafe') {
        return (query: string, parameters?: unknown[], options?: object) => {
          if (isLost()) throw lost ?? new DatabaseUnavailable('the database connection was lost during the transaction');
          // drizzle asks postgres.js for an unnamed statement unless the query was given a name
          // (`prepare: name !== undefined`), so PostgreSQL parsed and planned every statement of
          // every transaction again. Named prepared statements, cached per connection by
          // postgres.js (the pool's `prepare`: off behind a transaction pooler), parse once per
          // connection and let PostgreSQL reuse a generic plan (the statements are bounded: each
          // connection lives at most `max_lifetime`).
          return track(target.unsafe(query, parameters as never, { ...options, prepare: client.options.prepare } as never) as unknown as PendingQuery);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
  const watch = (c: DriverConnection) => {
    driverConnection = c;
    reservation = c.reserved;
    c.onclose = (error) => markLost(error);
    return true; // keep pipelining (postgres.js reads onexecute's result as "may send more")
  };
  try {
    const names = Object.keys(settings);
    const values = Object.values(settings);
    const setConfig = names.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
    // Not awaited: BEGIN, the settings and the first statements of `work` (queued in the same
    // tick) leave in one write. Statements run in order on this one connection, so none can
    // run before the settings; if BEGIN or the settings fail, the transaction is aborted and
    // every later statement fails too (their error is reported, not the later ones').
    const opening = Promise.all([
      track(connection.unsafe('begin', [], { onexecute: watch } as never) as unknown as PendingQuery),
      track(connection.unsafe(`select ${setConfig}`, names.flatMap((n, i) => [n, values[i]!])) as unknown as PendingQuery),
    ]);
    opening.catch(() => {});
    let result: T;
    try {
      result = await work(drizzlePostgres({ client: guarded, ...(logger ? { logger } : {}) }) as unknown as Transaction);
      await opening;
    } catch (error) {
      if (isLost()) throw lost ?? new DatabaseUnavailable('the database connection was lost during the transaction', error);
      await guarded.unsafe('rollback').catch(() => {});
      await opening.catch(() => {});
      throw error;
    }
    if (isLost()) throw lost ?? new DatabaseUnavailable('the database connection was lost before COMMIT');
    // COMMIT in a transaction that a failed statement aborted answers ROLLBACK, not an error.
    // A connection lost while COMMIT is under way leaves its outcome unknown: the server may have
    // committed and only the answer was lost, so nothing may be undone as if it rolled back.
    const committed = (await guarded.unsafe('commit').catch((error: unknown) => {
      throw isLost() ? new CommitOutcomeUnknown(error) : error;
    })) as unknown as { command: string };
    if (committed.command !== 'COMMIT') throw new TransactionRolledBack();
    return result;
  } finally {
    if (driverConnection && driverConnection.onclose) driverConnection.onclose = null;
    // A closed connection already went back to the pool (and may serve someone else by now).
    if (!isLost()) connection.release();
  }
}

/**
 * `client.reserve()`, bounded: rejects with {@link DatabaseUnavailable} when no connection is free
 * (or can be opened) within `timeoutMs`. A reservation still waiting after {@link RESERVE_RETRY_MS}
 * is abandoned and asked again: postgres.js 3.4.9 can strand a queued `reserve()` forever when a
 * pooled connection is terminated (porsager/postgres#1195). An abandoned reservation that is
 * granted later is released at once.
 */
async function reserveWithin(client: PostgresClient, timeoutMs: number): Promise<postgres.ReservedSql> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reserving = client.reserve();
    const wait = Math.min(RESERVE_RETRY_MS, Math.max(0, deadline - Date.now()));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), wait);
    });
    try {
      const reserved = await Promise.race([reserving, timeout]);
      if (reserved) return reserved;
    } catch (error) {
      throw new DatabaseUnavailable('the database cannot be reached', error);
    } finally {
      clearTimeout(timer);
    }
    reserving.then((late) => late.release(), () => {});
    if (Date.now() >= deadline) throw new DatabaseUnavailable(`no database connection could be had within ${timeoutMs} ms`);
  }
}

/** How long one `reserve()` may wait before it is abandoned and asked again (see reserveWithin). */
const RESERVE_RETRY_MS = 3000;

/**
 * The database cannot serve this request now (unreachable, connection lost, no free connection,
 * too many clients): worth retrying shortly. The HTTP layer answers 503 with `Retry-After`.
 */
class DatabaseUnavailable extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'DatabaseUnavailable';
  }
}

/**
 * The connection was lost while COMMIT was under way: the transaction may or may not have
 * committed. A 503 like any database fault, but the unit of work runs no rollback hooks (e.g. it
 * must not void a card payment that may be committed with its capture job); the client's retry
 * with the same Idempotency-Key replays the order if it committed, or runs it once if it did not.
 */
export class CommitOutcomeUnknown extends DatabaseUnavailable {
  constructor(cause?: unknown) {
    super('the database connection was lost during COMMIT; the outcome is unknown', cause);
    this.name = 'CommitOutcomeUnknown';
  }
}


/**
 * Runs a raw SQL statement and returns its rows, hiding the driver difference (postgres.js returns
 * an array, PGlite an object with `rows`).
 */
export async function queryRows<T>(executor: Pick<Database, 'execute'>, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown;
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** `sql` re-exported so modules build raw fragments from one place. */
export { sql };

async function withTimeout(check: Promise<boolean>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  try {
    return await Promise.race([check.catch(() => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Thrown when COMMIT answered ROLLBACK: a statement whose answer nobody awaited (a pipelined one,
 * see `UnitOfWork.pipeline`) failed and aborted the transaction. Nothing was committed.
 */
class TransactionRolledBack extends Error {
  constructor() {
    super('the transaction was rolled back at COMMIT because one of its statements failed');
    this.name = 'TransactionRolledBack';
  }
}

/** PostgreSQL SQLSTATE of an error thrown by either driver, also when drizzle wrapped it. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** True when `error` is a unique-constraint violation (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  return sqlState(error) === '23505';
}
